package segmenttest_test

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/segloop/segloop/segment/segmenttest"
)

// A test points its client at a Server, scripts the answers it wants to see,
// and reads what was delivered.
func Example() {
	srv := segmenttest.NewServer(segmenttest.Options{WriteKeys: []string{"wk"}})
	defer srv.Close()
	srv.Script(segmenttest.Response{Status: 429, RetryAfter: "0"})

	send := func() int {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/batch",
			strings.NewReader(`{"batch":[{"type":"identify","messageId":"m1","userId":"u1"}]}`))
		req.SetBasicAuth("wk", "")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	fmt.Println(send(), send())
	st := srv.Stats()
	fmt.Println(st.Throttled, st.Accepted, st.Unique, srv.Delivered()["m1"])
	// Output:
	// 429 200
	// 1 1 1 1
}
