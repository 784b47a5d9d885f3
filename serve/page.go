package serve

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
)

// assets are the page's files: plain HTML, CSS and a little JavaScript, no
// build step.
//
//go:embed page
var assets embed.FS

var (
	loginPage = template.Must(template.ParseFS(assets, "page/login.html"))
	appPage   = mustRead("page/index.html")
)

func mustRead(name string) []byte {
	b, err := assets.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// pageAssets serves /static/ from the embedded files (no data in them; no
// token needed).
func pageAssets() http.Handler {
	sub, _ := fs.Sub(assets, "page")
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}

// pageHeaders are set on the page: its script comes only from the server,
// and it may not be framed.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin") // (no-referrer would make the form's Origin "null")
	h.Set("Content-Type", "text/html; charset=utf-8")
}

// page is GET /: the runs page for a signed-in browser (or a request with
// the bearer header), else the sign-in form.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	pageHeaders(w)
	if ok, _ := s.auth.allowed(r); !ok {
		s.loginForm(w, http.StatusOK, "")
		return
	}
	w.Write(appPage)
}

func (s *Server) loginForm(w http.ResponseWriter, status int, msg string) {
	pageHeaders(w)
	w.WriteHeader(status)
	loginPage.Execute(w, struct{ Error string }{msg})
}

// login is POST /login: the form's token, checked in constant time, signs
// the browser in with an HttpOnly, SameSite=Strict cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	if err := r.ParseForm(); err != nil {
		s.loginForm(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if !s.auth.on {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !sameOrigin(r) || !s.auth.checkToken(r.PostForm.Get("token")) {
		s.loginForm(w, http.StatusUnauthorized, "Wrong token.")
		return
	}
	s.auth.setSession(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout is POST /logout.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	clearSession(w)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
