package templates

import (
	"fmt"
	"slices"
	"strings"
	"text/template/parse"

	"github.com/breachnotify/breachnotify/notifier/linkguard"
)

// A genuine notice is told from phishing partly by where it points: only
// to the notice's own pages on the public URL, never to anything loaded
// from elsewhere (a tracking pixel, a remote image or style). The send-time
// firewall (linkguard, run on every message before it is signed) is what
// guarantees it; the checks here refuse a template at upload already, with
// a message saying what to change:
//
//   - only functions that cannot assemble text a check cannot see: the
//     template's own (date, count, ...) and the comparisons; no printf,
//     print, slice, html, js, urlquery or call;
//   - a link is written whole ({{.Links.Ack}}) or tested ({{if
//     .Links.Ack}}), never passed to a function that could take it apart;
//   - what the template writes on its own, in every {{if}} and {{range}}
//     branch, with string constants put where they would print and a
//     stand-in for each value, passes the same checks a message does
//     (linkguard.Policy);
//   - and the template rendered with the sample data passes them too.

// allowedFuncs are the functions a template may call.
var allowedFuncs = []string{"date", "datetime", "kind", "count", "secret", "secrets", "plural", "join", "isolate",
	"and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index"}

// linkFields are the fields of Links, each a link of the notice's own.
var linkFields = []string{"Ack", "Portal", "Verify"}

// Markers that stand for values while a template's own text is checked
// (letters and digits only, so no escaper changes them): one per link
// and one for any data value.
const (
	markLinkAck    = "zBNq9LINKACKq9z"
	markLinkPortal = "zBNq9LINKPORTALq9z"
	markLinkVerify = "zBNq9LINKVERIFYq9z"
	markData       = "zBNq9DATAq9z"
)

var markLinks = map[string]string{"Ack": markLinkAck, "Portal": markLinkPortal, "Verify": markLinkVerify}

// sourcePolicy is the link policy a template's own text is held to.
var sourcePolicy = &linkguard.Policy{Links: []string{markLinkAck, markLinkPortal, markLinkVerify}}

// checkSource runs the upload checks on one parsed part (see above).
func checkSource(part string, tree *parse.Tree, isHTML bool) error {
	if tree == nil || tree.Root == nil {
		return nil
	}
	fail := func(format string, args ...any) error {
		return &PartError{Part: part, Err: fmt.Errorf(format, args...)}
	}
	var flat strings.Builder
	var walk func(n parse.Node) error
	walk = func(n parse.Node) error {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Nodes {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.TextNode:
			flat.Write(n.Text)
		case *parse.ActionNode:
			if link, ok := wholeLink(n.Pipe); ok {
				flat.WriteString(markLinks[link])
				return nil
			}
			return flattenPipe(n.Pipe, &flat, fail, true)
		case *parse.IfNode:
			if err := condition(n.Pipe, fail); err != nil {
				return err
			}
			return walkBranch(walk, &n.BranchNode)
		case *parse.RangeNode:
			if err := flattenPipe(n.Pipe, nil, fail, false); err != nil {
				return err
			}
			return walkBranch(walk, &n.BranchNode)
		case *parse.WithNode:
			if err := flattenPipe(n.Pipe, nil, fail, false); err != nil {
				return err
			}
			return walkBranch(walk, &n.BranchNode)
		case *parse.TemplateNode:
			// The template called is checked on its own.
			if err := flattenPipe(n.Pipe, nil, fail, false); err != nil {
				return err
			}
			flat.WriteString(markData)
		case *parse.BreakNode, *parse.ContinueNode, *parse.CommentNode:
		}
		return nil
	}
	if err := walk(tree.Root); err != nil {
		return err
	}
	src := flat.String()
	var err error
	if isHTML {
		err = sourcePolicy.Check("", "", src)
	} else {
		err = sourcePolicy.CheckText(part, src)
	}
	if err != nil {
		return &PartError{Part: part, Err: fmt.Errorf("%s (as the template reads with every branch and string written out)", strings.TrimPrefix(err.Error(), "html: "))}
	}
	return nil
}

func walkBranch(walk func(parse.Node) error, b *parse.BranchNode) error {
	for _, n := range []*parse.ListNode{b.List, b.ElseList} {
		if err := walk(n); err != nil {
			return err
		}
	}
	return nil
}

// wholeLink reports a pipeline that is one link, written whole.
func wholeLink(p *parse.PipeNode) (string, bool) {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return "", false
	}
	return linkField(p.Cmds[0].Args[0])
}

// linkField reports a node that is one of the link fields (.Links.Ack,
// $.Links.Ack).
func linkField(n parse.Node) (string, bool) {
	var ident []string
	switch n := n.(type) {
	case *parse.FieldNode:
		ident = n.Ident
	case *parse.VariableNode:
		if len(n.Ident) == 0 || n.Ident[0] != "$" {
			return "", false
		}
		ident = n.Ident[1:]
	default:
		return "", false
	}
	if len(ident) == 2 && ident[0] == "Links" && slices.Contains(linkFields, ident[1]) {
		return ident[1], true
	}
	return "", false
}

// mentionsLinks reports a node that reaches the links other than as one
// whole link field (.Links, .Links.Ack.X, a chain).
func mentionsLinks(n parse.Node) bool {
	if _, ok := linkField(n); ok {
		return true
	}
	switch n := n.(type) {
	case *parse.FieldNode:
		return slices.Contains(n.Ident, "Links")
	case *parse.VariableNode:
		return slices.Contains(n.Ident, "Links")
	case *parse.ChainNode:
		return slices.Contains(n.Field, "Links") || mentionsLinks(n.Node)
	case *parse.PipeNode:
		return n != nil && slices.ContainsFunc(n.Cmds, func(c *parse.CommandNode) bool { return slices.ContainsFunc(c.Args, mentionsLinks) })
	}
	return false
}

// condition checks an {{if}}: a link may be tested there, alone or with
// and, or, not, eq and ne, which take nothing apart.
func condition(p *parse.PipeNode, fail func(string, ...any) error) error {
	if p == nil {
		return nil
	}
	if len(p.Cmds) == 1 && len(p.Decl) == 0 {
		args := p.Cmds[0].Args
		fn := ""
		if id, ok := args[0].(*parse.IdentifierNode); ok {
			fn = id.Ident
		}
		if len(args) == 1 || slices.Contains([]string{"and", "or", "not", "eq", "ne"}, fn) {
			for _, a := range args {
				if _, ok := linkField(a); ok {
					continue
				}
				if err := checkArg(a, fail); err != nil {
					return err
				}
			}
			return nil
		}
	}
	return flattenPipe(p, nil, fail, false)
}

// checkArg refuses a function the template may not call, or a link used
// other than whole, anywhere in an argument.
func checkArg(a parse.Node, fail func(string, ...any) error) error {
	switch a := a.(type) {
	case *parse.IdentifierNode:
		if !slices.Contains(allowedFuncs, a.Ident) {
			return fail("the function %s is not allowed: it can assemble text or links the checks cannot see (allowed: %s)", a.Ident, strings.Join(allowedFuncs, ", "))
		}
	case *parse.PipeNode:
		return flattenPipe(a, nil, fail, false)
	case *parse.ChainNode:
		return checkArg(a.Node, fail)
	}
	if mentionsLinks(a) {
		return fail("a link may only be written whole ({{.Links.Ack}}) or tested ({{if .Links.Ack}}): a template may not take one apart or pass it to a function")
	}
	return nil
}

// flattenPipe checks every command of a pipeline, and, when it prints
// (an action), writes to flat what it could print: its string constants in
// order, and a stand-in for any value.
func flattenPipe(p *parse.PipeNode, flat *strings.Builder, fail func(string, ...any) error, prints bool) error {
	if p == nil {
		return nil
	}
	value := false
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			if err := checkArg(a, fail); err != nil {
				return err
			}
			switch a := a.(type) {
			case *parse.StringNode:
				if prints && flat != nil {
					flat.WriteString(a.Text)
				}
			case *parse.NumberNode, *parse.BoolNode, *parse.NilNode:
			default:
				value = true
			}
		}
	}
	if prints && flat != nil && value {
		flat.WriteString(markData)
	}
	return nil
}
