package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// CodeMethodNotAllowed answers a method a path does not take.
const CodeMethodNotAllowed = "SS_METHOD_NOT_ALLOWED" // 405, with Allow

// methodTable knows which methods each route takes, so that a request with
// the wrong method is answered 405 with Allow before any authentication:
// echo's catch-all routes of authenticated groups would otherwise turn it
// into a 401 or 404.
type methodTable struct {
	routes map[string]bool // "METHOD path" of real routes
	list   []routePattern
}

type routePattern struct {
	method string
	segs   []string
}

func newMethodTable(e *echo.Echo) *methodTable {
	t := &methodTable{routes: map[string]bool{}}
	for _, r := range e.Routes() {
		switch r.Method {
		case echo.RouteNotFound, "echo_route_any":
			continue
		}
		if strings.HasPrefix(r.Method, "echo_") {
			continue
		}
		t.routes[r.Method+" "+r.Path] = true
		t.list = append(t.list, routePattern{r.Method, strings.Split(strings.Trim(r.Path, "/"), "/")})
	}
	return t
}

// allowed lists the methods path takes.
func (t *methodTable) allowed(path string) []string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var out []string
	for _, r := range t.list {
		if r.match(segs) && !slices.Contains(out, r.method) {
			out = append(out, r.method)
		}
	}
	slices.Sort(out)
	return out
}

func (r routePattern) match(segs []string) bool {
	for i, p := range r.segs {
		if p == "*" {
			return true
		}
		if i >= len(segs) {
			return false
		}
		if !strings.HasPrefix(p, ":") && p != segs[i] {
			return false
		}
		if strings.HasPrefix(p, ":") && segs[i] == "" {
			return false
		}
	}
	return len(segs) == len(r.segs)
}

// methodCheck answers 405 when the router found no route for the request's
// method (only a catch-all) but the path takes other methods. HEAD on a
// GET route runs the GET route (net/http sends the headers, Content-Length
// included, and drops the body), and OPTIONS on a routed path answers 204
// with Allow; neither needs authentication, as neither reveals more than
// the 405 would.
func (s *Server) methodCheck(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if s.methods == nil || s.methods.routes[req.Method+" "+c.Path()] {
			return next(c)
		}
		allow := s.methods.allowed(req.URL.Path)
		if len(allow) == 0 || slices.Contains(allow, req.Method) {
			return next(c)
		}
		switch req.Method {
		case http.MethodHead:
			if slices.Contains(allow, http.MethodGet) {
				c.Echo().Router().Find(http.MethodGet, echo.GetPath(req), c)
				// The router bound the chain's end to the 405 before this
				// ran: call the GET route through the one middleware that
				// follows this one (routes() lists them).
				return s.publicDeadline(c.Handler())(c)
			}
		case http.MethodOptions:
			c.Response().Header().Set("Allow", allowHeader(allow))
			return c.NoContent(http.StatusNoContent)
		}
		if strings.HasPrefix(req.URL.Path, "/csc/v2/") {
			c.Set("csc", true) // answered in CSC's error shape, as the CSC group would
		}
		c.Response().Header().Set("Allow", allowHeader(allow))
		return apiErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "%s %s is not a method of this path; it takes %s", req.Method, req.URL.Path, strings.Join(allow, ", "))
	}
}

// allowHeader is the Allow header of a path whose routes take methods:
// those, HEAD wherever GET is, and OPTIONS.
func allowHeader(methods []string) string {
	out := slices.Clone(methods)
	if slices.Contains(out, http.MethodGet) && !slices.Contains(out, http.MethodHead) {
		out = append(out, http.MethodHead)
	}
	if !slices.Contains(out, http.MethodOptions) {
		out = append(out, http.MethodOptions)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
