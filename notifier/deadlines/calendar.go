package deadlines

import (
	"fmt"
	"strings"
	"time"
)

// Calendar is a set of public holidays, computed per year from rules, and
// the zone its days are counted in. Saturdays and Sundays are never
// business days; a holiday on one is observed the Friday before or the
// Monday after (the US federal rule).
type Calendar struct {
	TimeZone string    `json:"time_zone"`
	Source   string    `json:"source"`
	Holidays []Holiday `json:"holidays"`

	loc *time.Location
}

// Holiday is one rule: a fixed date (Month, Day) or the Nth Weekday of
// Month (Nth -1: the last).
type Holiday struct {
	Name    string     `json:"name"`
	Month   time.Month `json:"month"`
	Day     int        `json:"day,omitempty"`
	Weekday string     `json:"weekday,omitempty"`
	Nth     int        `json:"nth,omitempty"`
	// FromYear is the first year the holiday exists (Juneteenth: 2021).
	FromYear int `json:"from_year,omitempty"`
}

func (c *Calendar) init() error {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return fmt.Errorf("time_zone: %w", err)
	}
	c.loc = loc
	for _, h := range c.Holidays {
		fixed := h.Day > 0
		if h.Name == "" || h.Month < 1 || h.Month > 12 || fixed == (h.Weekday != "") ||
			(fixed && h.Day > 31) || (!fixed && (h.Nth == 0 || h.Nth < -1 || h.Nth > 5)) {
			return fmt.Errorf("holiday %q: give month and either day or weekday with nth (1-5, -1 for the last)", h.Name)
		}
		if _, ok := weekdays[strings.ToLower(h.Weekday)]; !fixed && !ok {
			return fmt.Errorf("holiday %q: weekday %q is not a day's name", h.Name, h.Weekday)
		}
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// Location is the zone the calendar's days are counted in.
func (c *Calendar) Location() *time.Location { return c.loc }

// Observed returns the days off of year: each holiday's date, moved off a
// weekend. New Year's Day of the next year falling on a Saturday is
// observed on 31 December of this one, so it is included.
func (c *Calendar) Observed(year int) []time.Time {
	var out []time.Time
	for _, y := range []int{year, year + 1} {
		for _, h := range c.Holidays {
			if h.FromYear > y {
				continue
			}
			if d := observed(h.date(y)); d.Year() == year {
				out = append(out, d)
			}
		}
	}
	return out
}

// date is the holiday's actual date in year, as midnight UTC (a civil
// date: days are then exactly 24 h apart).
func (h Holiday) date(year int) time.Time {
	if h.Day > 0 {
		return civil(year, h.Month, h.Day)
	}
	want := weekdays[strings.ToLower(h.Weekday)]
	if h.Nth < 0 {
		last := civil(year, h.Month+1, 0)
		return last.AddDate(0, 0, -((int(last.Weekday()) - int(want) + 7) % 7))
	}
	first := civil(year, h.Month, 1)
	return first.AddDate(0, 0, (int(want)-int(first.Weekday())+7)%7+7*(h.Nth-1))
}

func observed(d time.Time) time.Time {
	switch d.Weekday() {
	case time.Saturday:
		return d.AddDate(0, 0, -1)
	case time.Sunday:
		return d.AddDate(0, 0, 1)
	}
	return d
}

func civil(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// IsBusinessDay reports whether the civil date d (midnight UTC) is neither
// a weekend day nor an observed holiday.
func (c *Calendar) IsBusinessDay(d time.Time) bool {
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	for _, h := range c.Observed(d.Year()) {
		if h.Equal(d) {
			return false
		}
	}
	return true
}

// AddBusinessDays returns the civil date n business days after the civil
// date d (d itself does not count, whatever it is).
func (c *Calendar) AddBusinessDays(d time.Time, n int) time.Time {
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		if c.IsBusinessDay(d) {
			n--
		}
	}
	return d
}
