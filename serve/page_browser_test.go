package serve_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/segloop/segloop/segment/segmenttest"
	"github.com/segloop/segloop/serve"
)

// chromium returns the path of Debian's chromium, skipping the test when it
// is missing (failing under CI=true, where .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: .ci/run installs Debian's chromium package")
	}
	t.Skip("chromium not found (apt-get install chromium)")
	return ""
}

// TestPageRetryInBrowser signs in through the page in a real headless
// chromium, finds a run with failed items, clicks Retry, and sees the retry
// run succeed; its results are the failed items, ok, under their
// messageIds.
func TestPageRetryInBrowser(t *testing.T) {
	exe := chromium(t)
	e := start(t, segmenttest.Options{}, serve.Config{Token: testToken, WriteKey: testWriteKey, Batch: 1, MaxAttempts: 1})
	e.seg.Script(segmenttest.Response{Status: 400}, segmenttest.Response{Status: 400})
	var first struct {
		Run     runView
		Results []resultLine
	}
	e.json("POST", "/v1/runs?wait=true", map[string]any{"items": items(5)}, 200, &first)
	if first.Run.Counts.Failed != 2 {
		t.Fatalf("run %+v; want 2 failed", first.Run)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	card := css(`article.run[data-run-id="` + first.Run.ID + `"]`)
	fail := func(step string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %s: %v\nserver log:\n%s", step, err, e.logs)
		}
	}
	fail("sign in and open the run", chromedp.Do(ctx,
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(css(`#token`)),
		chromedp.SendKeys(css(`#token`), testToken),
		chromedp.Submit(css(`#token`)),
		chromedp.WaitVisible(card),
		chromedp.Click(card),
		chromedp.WaitVisible(css(`#failed li[data-index]`)),
	))
	nFailed, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#failed li[data-index]").length`))
	fail("count the failed items", err)
	failedText, err := chromedp.Run(ctx, chromedp.Text(css(`#failed`)))
	fail("read the failed items", err)
	fail("click Retry", chromedp.Do(ctx,
		chromedp.WaitVisible(css(`#retry`)),
		chromedp.Click(css(`#retry`)),
		chromedp.WaitVisible(css(`#detail[data-status="succeeded"]:not([data-run-id="`+first.Run.ID+`"])`)),
	))
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(css(`#detail`), "data-run-id"))
	fail("read the retry's id", err)
	retryID := attr.Value
	status, err := chromedp.Run(ctx, chromedp.Text(css(`#detail-status`)))
	fail("read the retry's status", err)
	if nFailed != 2 || !strings.Contains(failedText, "400") {
		t.Fatalf("page listed %d failed items: %q", nFailed, failedText)
	}
	var retry runView
	e.json("GET", "/v1/runs/"+retryID, nil, 200, &retry)
	if retry.RetryOf != first.Run.ID || retry.Status != "succeeded" || status != "succeeded" {
		t.Fatalf("retry run %+v, page status %q", retry, status)
	}
	failed := map[string]bool{}
	for _, r := range first.Results {
		if r.Status == "failed" {
			failed[r.MessageID] = true
		}
	}
	res := e.results(retryID, "")
	if len(res) != 2 {
		t.Fatalf("retry results %+v", res)
	}
	for _, r := range res {
		if r.Status != "ok" || !failed[r.MessageID] {
			t.Fatalf("retry result %+v: want ok under a failed item's messageId", r)
		}
	}
}
