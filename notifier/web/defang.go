package web

import (
	"html/template"
	"text/template/parse"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// Breach data is shown on these pages next to our own links: an item's
// subject from stolen mail, an organization's name, a relay's reply. It is
// escaped (html/template) and, like in every notice, defanged, so none of
// it looks like a link to follow or copy: ParsePages makes every {{...}}
// that prints go through defang. Only plain strings are defanged; a value
// a page must show exactly as it is (our own URLs and form tokens, what
// the visitor typed into a form) is a Verbatim.

// Verbatim is a value a page shows exactly as it is: one of our own URLs
// or tokens, or what the visitor typed back into a form field. Never
// breach data.
type Verbatim string

// defang is the function ParsePages adds to every printing action.
func defang(v any) any {
	if s, ok := v.(string); ok {
		return linkguard.Defang(s)
	}
	return v
}

// defangActions appends defang to every action of t's templates that
// prints, before html/template adds its escapers.
func defangActions(t *template.Template) {
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			defangNode(tt.Tree.Root)
		}
	}
}

func defangNode(n parse.Node) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			defangNode(c)
		}
	case *parse.ActionNode:
		if len(n.Pipe.Decl) == 0 {
			n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos,
				Args: []parse.Node{parse.NewIdentifier("defang").SetTree(nil).SetPos(n.Pos)}})
		}
	case *parse.IfNode:
		defangNode(n.List)
		defangNode(n.ElseList)
	case *parse.RangeNode:
		defangNode(n.List)
		defangNode(n.ElseList)
	case *parse.WithNode:
		defangNode(n.List)
		defangNode(n.ElseList)
	}
}
