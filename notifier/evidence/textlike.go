package evidence

import (
	"bytes"
	"path"
	"strings"
)

// textMediaTypes are the non-text/* media types whose files are text.
var textMediaTypes = map[string]bool{
	"application/json": true, "application/xml": true, "application/yaml": true, "application/x-yaml": true,
	"application/toml": true, "application/javascript": true, "application/x-javascript": true,
	"application/x-sh": true, "application/x-shellscript": true, "application/x-powershell": true,
	"application/x-pem-file": true, "application/pem-certificate-chain": true, "application/x-x509-ca-cert": true,
	"application/sql": true, "application/x-httpd-php": true, "application/x-python": true,
}

// textExtensions are the file name endings of text files that mail
// programs often send as application/octet-stream: configuration, keys,
// scripts, credentials files.
var textExtensions = map[string]bool{
	".txt": true, ".log": true, ".csv": true, ".md": true, ".json": true, ".xml": true, ".yaml": true, ".yml": true,
	".toml": true, ".ini": true, ".cfg": true, ".conf": true, ".config": true, ".properties": true, ".env": true,
	".pem": true, ".key": true, ".crt": true, ".cer": true, ".pub": true, ".ppk": true, ".ovpn": true, ".rdp": true,
	".sh": true, ".bash": true, ".ps1": true, ".psm1": true, ".bat": true, ".cmd": true, ".vbs": true, ".py": true,
	".js": true, ".ts": true, ".go": true, ".java": true, ".cs": true, ".rb": true, ".php": true, ".sql": true,
	".tf": true, ".tfvars": true, ".hcl": true, ".npmrc": true, ".netrc": true, ".pgpass": true, ".htpasswd": true,
	".git-credentials": true, ".kubeconfig": true, ".dockercfg": true, ".har": true, ".eml": true,
}

// textLike reports whether an attachment is text worth scanning for
// secrets: a text media type or a text file name, and no NUL byte in
// its first 8 KiB (a mislabelled binary). Office documents, PDFs and
// archives are not: their text would need a decoder of each format.
func textLike(a Attachment, content []byte) bool {
	ct := strings.ToLower(a.ContentType)
	byType := strings.HasPrefix(ct, "text/") || textMediaTypes[ct] || strings.HasSuffix(ct, "+json") || strings.HasSuffix(ct, "+xml")
	name := strings.ToLower(a.Name)
	byName := textExtensions[path.Ext(name)] || textExtensions["."+strings.TrimPrefix(name, ".")]
	if !byType && !byName {
		return false
	}
	head := content
	if len(head) > 8<<10 {
		head = head[:8<<10]
	}
	return bytes.IndexByte(head, 0) < 0
}
