package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// secretPrefix marks a Standard Webhooks secret.
const secretPrefix = "whsec_"

// secretSize is the bytes of a new secret (the specification asks for
// 24 to 64).
const secretSize = 32

// newSecret draws a signing secret.
func newSecret() []byte {
	b := make([]byte, secretSize)
	rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return b
}

// FormatSecret is a secret as receivers configure it: whsec_ and base64.
func FormatSecret(raw []byte) string {
	return secretPrefix + base64.StdEncoding.EncodeToString(raw)
}

// Signature is the value of the webhook-signature header for a message
// signed with each of secrets: "v1,<base64 HMAC-SHA256>" per secret,
// separated by spaces, so a receiver holding either secret of a rotation
// verifies it.
func Signature(msgID string, at time.Time, body []byte, secrets [][]byte) string {
	sigs := make([]string, len(secrets))
	for i, key := range secrets {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msgID + "." + strconv.FormatInt(at.Unix(), 10) + "."))
		h.Write(body)
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	return strings.Join(sigs, " ")
}

// SetHeaders sets the Standard Webhooks headers of a message.
func SetHeaders(h http.Header, msgID string, at time.Time, body []byte, secrets [][]byte) {
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", Signature(msgID, at, body, secrets))
	h.Set("Content-Type", "application/json")
}
