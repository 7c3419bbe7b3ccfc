package app_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/breachnotify/breachnotify/notifier/app/apptest"
)

// scenarioItem is one exposure item portalScenario imports and notifies.
type scenarioItem struct {
	incident, ref, kind, secrets string
}

// scenarioItems is each organization's own data in portalScenario, as the
// IR team imported it: in incident "mail" both have items (of different
// counts, kinds and secret types, in the shared first batch and in a batch
// of their own), and each alone has one more incident.
var scenarioItems = map[string][]scenarioItem{
	"contoso": {
		{"mail", "MSG-100001", "email", ""},
		{"mail", "MSG-100002", "email", "client_secret"},
		{"mail", "MSG-100003", "email", ""},
		{"mail", "MSG-100009", "email", "password"},
		{"mail", "FILE-100010", "file", "api_key"},
		{"crm", "CRM-1", "other", ""},
	},
	"fabrikam": {
		{"mail", "MSG-200001", "email", "password"},
		{"mail", "MSG-200002", "email", ""},
		{"mail", "MSG-200009", "email", ""},
		{"vpn", "CFG-1", "file", "private_key"},
		{"vpn", "CRED-2", "credential", "password"},
	},
}

// What the portal's pages show, read back from their HTML.
var (
	overviewIncident = regexp.MustCompile(`<a href="/portal/incidents/(\d+)"><bdi>[^<]*</bdi></a><br><span class="muted">First notified [^<·]*· notices: (\d+) · exposed items: (\d+)</span>`)
	noticeRow        = regexp.MustCompile(`<a href="/portal/notices/(\d+)">[^<]*</a></td>\s*<td data-label="Incident"><bdi>([^<]*)</bdi></td>\s*<td data-label="Sent"[^>]*>[^<]*</td>\s*<td data-label="Items">(\d+)</td>`)
	itemRow          = regexp.MustCompile(`<a href="/portal/items/(\d+)"><bdi>([^<]*)</bdi></a></td>\s*<td data-label="Kind">([^<]*)</td>\s*<td data-label="Date"[^>]*>[^<]*</td>\s*<td data-label="Subject"><bdi>[^<]*</bdi></td>\s*<td data-label="Secrets"><bdi>([^<]*)</bdi></td>\s*<td data-label="Batch">#(\d+)</td>`)
	batchEntry       = regexp.MustCompile(`<a href="/portal/items\?batch=(\d+)">Batch #\d+</a>, found [^<:]*: items: (\d+)</li>`)
	exposedItems     = regexp.MustCompile(`<dt>Exposed items</dt><dd>(\d+)</dd>`)
	itemsCovered     = regexp.MustCompile(`<dt>Items covered</dt><dd>(\d+)</dd>`)
	selectOptions    = regexp.MustCompile(`(?s)<select id="f-(\w+)"[^>]*>(.*?)</select>`)
	optionValue      = regexp.MustCompile(`<option value="([^"]+)"`)
	itemDetail       = regexp.MustCompile(`(?s)<h1><bdi>([^<]*)</bdi></h1>.*<dt>Kind</dt><dd>([^<]*)</dd>.*<dt>Incident</dt><dd><a href="/portal/incidents/(\d+)">.*<dt>Secrets found</dt><dd>([^<]*)</dd>.*<dt>Batch</dt><dd><a href="/portal/items\?batch=(\d+)">.*<dt>Told in</dt><dd><a href="/portal/notices/(\d+)">`)
)

// ownItem is one of an organization's items with the ids the database
// gave it and its incident's.
type ownItem struct {
	scenarioItem
	id, incidentID, batchID, noticeID int64
	incidentTitle                     string
}

// row is how an item reads in a list: ref, kind, secret types, batch.
func (it ownItem) row() string {
	return fmt.Sprintf("%s %s [%s] #%d", it.ref, it.kind, it.secrets, it.batchID)
}

// ownData looks up the database's ids of an organization's scenario items
// (failing if it holds any other item of the organization), and returns
// them with every other organization's item refs.
func ownData(t *testing.T, e *apptest.Env, org string) (own []ownItem, others []string) {
	t.Helper()
	rows, err := e.App.Pool.Query(context.Background(), `
SELECT o.ref, i.item_ref, i.id, i.incident_id, inc.title, i.batch_id,
       coalesce((SELECT ni.notice_id FROM notice_items ni JOIN notices n ON n.id = ni.notice_id
                  WHERE ni.item_id = i.id AND n.voided_at IS NULL), 0)
FROM exposure_items i JOIN organizations o ON o.id = i.organization_id JOIN incidents inc ON inc.id = i.incident_id
ORDER BY i.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	byRef := map[string]scenarioItem{}
	for _, it := range scenarioItems[org] {
		byRef[it.ref] = it
	}
	for rows.Next() {
		var orgRef string
		var it ownItem
		if err := rows.Scan(&orgRef, &it.ref, &it.id, &it.incidentID, &it.incidentTitle, &it.batchID, &it.noticeID); err != nil {
			t.Fatal(err)
		}
		if orgRef != org {
			others = append(others, it.ref)
			continue
		}
		s, ok := byRef[it.ref]
		if !ok || it.noticeID == 0 {
			t.Fatalf("%s has item %s (notice %d): not one of the scenario's notified items", org, it.ref, it.noticeID)
		}
		it.scenarioItem = s
		own = append(own, it)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(own) != len(scenarioItems[org]) {
		t.Fatalf("%s has %d of its %d scenario items", org, len(own), len(scenarioItems[org]))
	}
	return own, others
}

// count groups items by key and counts them.
func count(items []ownItem, key func(ownItem) string) map[string]int {
	out := map[string]int{}
	for _, it := range items {
		out[key(it)]++
	}
	return out
}

func where(items []ownItem, keep func(ownItem) bool) []ownItem {
	return slices.DeleteFunc(slices.Clone(items), func(it ownItem) bool { return !keep(it) })
}

func rowsOf(items []ownItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.row())
	}
	slices.Sort(out)
	return out
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// only is the first group of re's match in page, or a note saying how
// many times it matched when that is not exactly once.
func only(re *regexp.Regexp, page string) string {
	m := re.FindAllStringSubmatch(page, -1)
	if len(m) != 1 {
		return fmt.Sprintf("(%d matches of %s)", len(m), re)
	}
	return m[0][1]
}

// TestPortalShowsOwnFigures signs in as a contact of each of two
// organizations with items in the same incident and checks every number
// and every item each portal page shows (incident list, incident pages,
// notice pages, item list with its filters, item pages, CSV) against that
// organization's own data, and that no other organization's item appears
// on any of them. The isolation matrix checks status codes only: a count
// taken over the whole incident passed it.
func TestPortalShowsOwnFigures(t *testing.T) {
	t.Parallel()
	e := apptest.Start(t, apptest.Options{})
	portalScenario(t, e)
	for org, email := range map[string]string{"contoso": "soc@contoso.example", "fabrikam": "sicherheit@fabrikam.example"} {
		own, others := ownData(t, e, org)
		v := newVisitor(t, e)
		v.signIn(email)
		get := func(path string) string {
			t.Helper()
			st, page, _ := v.do("GET", path, nil)
			if st != 200 {
				t.Fatalf("%s: GET %s: %d\n%s", org, path, st, page)
			}
			for _, ref := range others {
				if strings.Contains(page, ref) {
					t.Errorf("%s: GET %s shows %s, another organization's item", org, path, ref)
				}
			}
			return page
		}
		check := func(what string, got, want any) {
			t.Helper()
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: %s:\n got %v\nwant %v", org, what, got, want)
			}
		}
		incidentOf := func(it ownItem) string { return id(it.incidentID) }
		noticeOf := func(it ownItem) string { return id(it.noticeID) }
		batchOf := func(it ownItem) string { return id(it.batchID) }
		// noticesIn are an incident's notices with their item counts.
		noticesIn := func(items []ownItem) map[string]string {
			out := map[string]string{}
			for n, c := range count(items, noticeOf) {
				it := items[slices.IndexFunc(items, func(it ownItem) bool { return noticeOf(it) == n })]
				out[n] = fmt.Sprintf("%s: %d items", it.incidentTitle, c)
			}
			return out
		}
		readNotices := func(page string) map[string]string {
			out := map[string]string{}
			for _, m := range noticeRow.FindAllStringSubmatch(page, -1) {
				out[m[1]] = m[2] + ": " + m[3] + " items"
			}
			return out
		}
		readItems := func(page string) []string {
			var out []string
			for _, m := range itemRow.FindAllStringSubmatch(page, -1) {
				out = append(out, fmt.Sprintf("%s %s [%s] #%s", m[2], m[3], strings.ReplaceAll(m[4], ", ", ";"), m[5]))
			}
			slices.Sort(out)
			return out
		}

		// The incident list: each incident's notices and items.
		page := get("/portal")
		want := map[string]string{}
		for inc, c := range count(own, incidentOf) {
			want[inc] = fmt.Sprintf("%d notices, %d items", len(count(where(own, func(it ownItem) bool { return incidentOf(it) == inc }), noticeOf)), c)
		}
		got := map[string]string{}
		for _, m := range overviewIncident.FindAllStringSubmatch(page, -1) {
			got[m[1]] = m[2] + " notices, " + m[3] + " items"
		}
		check("incidents on the overview", got, want)
		check("notices on the overview", readNotices(page), noticesIn(own))

		// Each incident: its items, batches and notices.
		for inc := range want {
			items := where(own, func(it ownItem) bool { return incidentOf(it) == inc })
			page := get("/portal/incidents/" + inc)
			check("exposed items of incident "+inc, only(exposedItems, page), strconv.Itoa(len(items)))
			batches := map[string]string{}
			for _, m := range batchEntry.FindAllStringSubmatch(page, -1) {
				batches[m[1]] = m[2]
			}
			wantBatches := map[string]string{}
			for b, c := range count(items, batchOf) {
				wantBatches[b] = strconv.Itoa(c)
			}
			check("batches of incident "+inc, batches, wantBatches)
			check("notices of incident "+inc, readNotices(page), noticesIn(items))
		}

		// Each notice: how many items it covers, and which.
		for n, c := range count(own, noticeOf) {
			items := where(own, func(it ownItem) bool { return noticeOf(it) == n })
			page := get("/portal/notices/" + n)
			check("items covered by notice "+n, only(itemsCovered, page), strconv.Itoa(c))
			check("items of notice "+n, readItems(page), rowsOf(items))
		}

		// The item list, whole and filtered, its filter choices, and the
		// same selections as CSV.
		page = get("/portal/items")
		choices := map[string][]string{}
		for _, m := range selectOptions.FindAllStringSubmatch(page, -1) {
			for _, o := range optionValue.FindAllStringSubmatch(m[2], -1) {
				choices[m[1]] = append(choices[m[1]], o[1])
			}
		}
		var secrets []string
		for _, it := range own {
			if it.secrets != "" {
				secrets = append(secrets, strings.Split(it.secrets, ";")...)
			}
		}
		slices.Sort(secrets)
		secrets = slices.Compact(secrets)
		check("incidents to filter by", slices.Sorted(slices.Values(choices["incident"])), slices.Sorted(maps.Keys(count(own, incidentOf))))
		check("batches to filter by", slices.Sorted(slices.Values(choices["batch"])), slices.Sorted(maps.Keys(count(own, batchOf))))
		check("secret types to filter by", choices["secret"], secrets)
		filters := map[string][]ownItem{"": own}
		for inc := range count(own, incidentOf) {
			filters["incident="+inc] = where(own, func(it ownItem) bool { return incidentOf(it) == inc })
		}
		for b := range count(own, batchOf) {
			filters["batch="+b] = where(own, func(it ownItem) bool { return batchOf(it) == b })
		}
		for _, s := range secrets {
			filters["secret="+s] = where(own, func(it ownItem) bool { return slices.Contains(strings.Split(it.secrets, ";"), s) })
		}
		for _, k := range []string{"email", "file", "credential", "other"} {
			filters["kind="+k] = where(own, func(it ownItem) bool { return it.kind == k })
		}
		for q, items := range filters {
			check("items listed for ?"+q, readItems(get("/portal/items?"+q)), rowsOf(items))
			var csvRows []string
			records, err := csv.NewReader(strings.NewReader(get("/portal/items.csv?" + q))).ReadAll()
			if err != nil || len(records) == 0 || strings.Join(records[0], ",") != "incident,notice_id,batch_id,item_ref,kind,occurred_at,subject,summary,secret_types" {
				t.Fatalf("%s: items.csv?%s: %v %q", org, q, err, records)
			}
			for _, r := range records[1:] {
				csvRows = append(csvRows, fmt.Sprintf("%s %s [%s] #%s in %s, notice %s", r[3], r[4], r[8], r[2], r[0], r[1]))
			}
			slices.Sort(csvRows)
			var wantRows []string
			for _, it := range items {
				wantRows = append(wantRows, fmt.Sprintf("%s in %s, notice %d", it.row(), it.incidentTitle, it.noticeID))
			}
			slices.Sort(wantRows)
			check("items.csv?"+q, csvRows, wantRows)
		}

		// Each item's own page.
		for _, it := range own {
			page := get("/portal/items/" + id(it.id))
			secrets := "none"
			if it.secrets != "" {
				secrets = strings.ReplaceAll(it.secrets, ";", ", ") + ": rotate them"
			}
			// Breach data is isolated (<bdi>), the words around it are not.
			m := itemDetail.FindStringSubmatch(strings.NewReplacer("<dd><bdi>", "<dd>", "</bdi>:", ":").Replace(page))
			if m == nil {
				t.Errorf("%s: the page of item %s does not read as an item:\n%s", org, it.ref, page)
				continue
			}
			check("item page "+it.ref, m[1:], []string{it.ref, it.kind, id(it.incidentID), secrets, id(it.batchID), id(it.noticeID)})
		}
	}
}
