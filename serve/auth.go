package serve

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
)

// sessionCookie is the page's cookie: HttpOnly, SameSite=Strict, holding a
// value derived from the token (never the token itself).
const sessionCookie = "segloop_session"

// auth checks requests against the server's token: a bearer header, or the
// page's session cookie. The zero auth (no token) lets every request in.
type auth struct {
	tokenSum [32]byte // SHA-256 of the token; compared in constant time
	session  string   // the cookie value that proves a sign-in
	on       bool
}

func newAuth(token string) auth {
	if token == "" {
		return auth{}
	}
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("segloop page session v1"))
	return auth{tokenSum: sha256.Sum256([]byte(token)), session: hex.EncodeToString(mac.Sum(nil)), on: true}
}

// checkToken reports whether token is the server's, in constant time.
func (a auth) checkToken(token string) bool {
	sum := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1
}

// allowed reports whether r is authenticated, and whether by the cookie.
func (a auth) allowed(r *http.Request) (ok, byCookie bool) {
	if !a.on {
		return true, false
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, found := strings.Cut(h, " ")
		return found && strings.EqualFold(scheme, "Bearer") && a.checkToken(strings.TrimSpace(token)), false
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.session)) == 1, true
	}
	return false, false
}

// require wraps h: a request without the token is answered 401, and a
// state-changing request authenticated by the cookie must come from the
// server's own page (its Origin, when sent, is this host).
func (a auth) require(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ok, byCookie := a.allowed(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="segloop"`)
			writeError(w, &apiError{Status: http.StatusUnauthorized, Code: codeUnauthorized,
				Message: "missing or wrong token: send Authorization: Bearer TOKEN"})
			return
		}
		if byCookie && r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
			writeError(w, &apiError{Status: http.StatusForbidden, Code: codeForbidden, Message: "cross-origin request refused"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// sameOrigin reports whether r's Origin header is absent or names r's host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// setSession signs the browser in: it sets the session cookie.
func (a auth) setSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: a.session, Path: "/",
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
		MaxAge: 7 * 24 * 3600,
	})
}

// clearSession signs the browser out.
func clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
