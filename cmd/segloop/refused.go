package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/segment"
)

// explainRefusal puts the likely cause in front of the error of a run that the loop
// aborted because the endpoint refused request after request for a reason of its own
// (loop.RefusedError): a status that says the URL is wrong, or a TLS failure, named.
// Any other error is returned as it is.
func explainRefusal(err error) error {
	var re *loop.RefusedError
	if !errors.As(err, &re) {
		return err
	}
	var (
		se *segment.StatusError
		cv *tls.CertificateVerificationError
		rh tls.RecordHeaderError
	)
	switch {
	case errors.As(re.Err, &se):
		return fmt.Errorf("every request answered %d %s: is --endpoint right? (%w)", se.Code, http.StatusText(se.Code), err)
	case errors.As(re.Err, &cv):
		return fmt.Errorf("the endpoint's TLS certificate failed verification (%v): is --endpoint right, and its certificate one this machine trusts? (%w)", cv.Err, err)
	case errors.As(re.Err, &rh):
		return fmt.Errorf("the endpoint does not answer in TLS: is --endpoint right (http or https)? (%w)", err)
	case segment.IsTLSError(re.Err):
		return fmt.Errorf("the endpoint's TLS certificate failed verification: is --endpoint right? (%w)", err)
	}
	return err
}
