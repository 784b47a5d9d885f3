package sqlsource

import (
	"strings"
)

// token is one significant piece of SQL text: a word, a quoted string or
// identifier, or one punctuation character. Comments and spaces are not
// tokens.
type token struct {
	start, end int
	word       bool // a bare word (keyword or identifier)
	depth      int  // parenthesis depth at the token
}

// tokens calls do for each token of text, in order, until do returns false.
// It knows the quoting of PostgreSQL and SQLite: '…' strings (a doubled
// quote escapes one; in E'…', a backslash does), "…", `…` and […]
// identifiers, $tag$…$tag$ strings, -- and /* */ comments (nested, as
// PostgreSQL allows). Unclosed quotes and comments run to the end of the
// text.
func tokens(text string, do func(token) bool) {
	depth := 0
	for i := 0; i < len(text); {
		c := text[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
			continue
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			if j := strings.IndexByte(text[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(text)
			}
			continue
		case c == '/' && strings.HasPrefix(text[i:], "/*"):
			i = blockCommentEnd(text, i)
			continue
		case c == '\'':
			i = quotedEnd(text, i, '\'', false)
		case (c == 'E' || c == 'e') && i+1 < len(text) && text[i+1] == '\'':
			i = quotedEnd(text, i+1, '\'', true)
		case c == '"' || c == '`':
			i = quotedEnd(text, i, c, false)
		case c == '[':
			if j := strings.IndexByte(text[i:], ']'); j >= 0 {
				i += j + 1
			} else {
				i = len(text)
			}
		case c == '$' && dollarTag(text[i:]) != "":
			tag := dollarTag(text[i:])
			if j := strings.Index(text[i+len(tag):], tag); j >= 0 {
				i += len(tag) + j + len(tag)
			} else {
				i = len(text)
			}
		case isWordByte(c):
			for i < len(text) && (isWordByte(text[i]) || text[i] == '$') {
				i++
			}
			if !do(token{start: start, end: i, word: true, depth: depth}) {
				return
			}
			continue
		default:
			i++
			if c == ')' && depth > 0 {
				depth--
			}
		}
		if !do(token{start: start, end: i, depth: depth}) {
			return
		}
		if c == '(' {
			depth++
		}
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// quotedEnd returns the index after the quote q closing the quoted text
// opened at text[i]; a doubled quote is an escaped one, and so, with
// backslashes, is \q.
func quotedEnd(text string, i int, q byte, backslashes bool) int {
	for i++; i < len(text); i++ {
		switch text[i] {
		case '\\':
			if backslashes {
				i++
			}
		case q:
			if i+1 < len(text) && text[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(text)
}

func blockCommentEnd(text string, i int) int {
	nest := 0
	for i < len(text) {
		switch {
		case strings.HasPrefix(text[i:], "/*"):
			nest++
			i += 2
		case strings.HasPrefix(text[i:], "*/"):
			nest--
			i += 2
			if nest == 0 {
				return i
			}
		default:
			i++
		}
	}
	return len(text)
}

// dollarTag returns the $tag$ opening a dollar-quoted string at the start of
// s, or "" ($1 is a parameter, not a tag).
func dollarTag(s string) string {
	for i := 1; i < len(s); i++ {
		c := s[i]
		if c == '$' {
			return s[:i+1]
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || i > 1 && c >= '0' && c <= '9') {
			return ""
		}
	}
	return ""
}

// HasOrderBy reports whether the SQL text has an ORDER BY at its top level:
// outside parentheses (so not in a subquery or a window's OVER clause),
// comments, strings and quoted identifiers.
func HasOrderBy(text string) bool {
	found, prevOrder := false, false
	tokens(text, func(t token) bool {
		isWord := func(w string) bool { return t.word && strings.EqualFold(text[t.start:t.end], w) }
		if t.depth == 0 && prevOrder && isWord("by") {
			found = true
			return false
		}
		prevOrder = t.depth == 0 && isWord("order")
		return true
	})
	return found
}

// statement returns text without the semicolons, spaces and comments that
// end it, so that it can be wrapped in a subquery.
func statement(text string) string {
	end := 0
	tokens(text, func(t token) bool {
		if text[t.start:t.end] != ";" {
			end = t.end
		}
		return true
	})
	return text[:end]
}

// quoteIdent quotes name as an SQL identifier, exactly as spelled.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// orderedBy wraps the query text so that its rows come sorted by the column
// key.
func orderedBy(text, key string) string {
	return "SELECT * FROM (\n" + statement(text) + "\n) AS segloop_query ORDER BY " + quoteIdent(key)
}
