//go:build cgo

package signer

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/pkcs11"
)

// SoftHSM 2.6 sets CKF_USER_PIN_COUNT_LOW after a wrong PIN but never
// locks, so the lock and final-try paths are shown on the translation table.
func TestLoginErrorFromCKR(t *testing.T) {
	type result struct {
		Is        string
		TriesLeft int
		FinalTry  bool
		CountLow  bool
	}
	describe := func(err error) result {
		var r result
		switch {
		case errors.Is(err, ErrPINLocked):
			r.Is = "locked"
		case errors.Is(err, ErrPINIncorrect):
			r.Is = "incorrect"
		default:
			r.Is = "other"
		}
		var pe *PINError
		if errors.As(err, &pe) {
			r.TriesLeft, r.FinalTry, r.CountLow = pe.TriesLeft, pe.FinalTry, pe.CountLow
		} else {
			r.TriesLeft = -99
		}
		return r
	}
	for _, tc := range []struct {
		ckr   uint
		flags uint
		want  result
	}{
		{pkcs11.CKR_PIN_INCORRECT, 0, result{"incorrect", -1, false, false}},
		{pkcs11.CKR_PIN_INCORRECT, pkcs11.CKF_USER_PIN_COUNT_LOW, result{"incorrect", -1, false, true}},
		{pkcs11.CKR_PIN_INCORRECT, pkcs11.CKF_USER_PIN_COUNT_LOW | pkcs11.CKF_USER_PIN_FINAL_TRY, result{"incorrect", 1, true, true}},
		{pkcs11.CKR_PIN_INCORRECT, pkcs11.CKF_USER_PIN_LOCKED, result{"locked", 0, false, false}},
		{pkcs11.CKR_PIN_LEN_RANGE, 0, result{"incorrect", -1, false, false}},
		{pkcs11.CKR_PIN_INVALID, 0, result{"incorrect", -1, false, false}},
		{pkcs11.CKR_PIN_LOCKED, pkcs11.CKF_USER_PIN_LOCKED, result{"locked", 0, false, false}},
		{pkcs11.CKR_PIN_LOCKED, 0, result{"locked", 0, false, false}},
		{pkcs11.CKR_PIN_EXPIRED, 0, result{"other", -99, false, false}},
		{pkcs11.CKR_DEVICE_REMOVED, 0, result{"other", -99, false, false}},
	} {
		err := loginErrorFromCKR(pkcs11.Error(tc.ckr), tc.flags)
		if diff := cmp.Diff(tc.want, describe(err)); diff != "" {
			t.Errorf("CKR 0x%x flags 0x%x: %v (-want +got):\n%s", tc.ckr, tc.flags, err, diff)
		}
		if err.Error() == "" {
			t.Error("empty message")
		}
	}
	if err := loginErrorFromCKR(pkcs11.Error(pkcs11.CKR_DEVICE_REMOVED), 0); !errors.Is(err, ErrTokenNotFound) {
		t.Errorf("device removed: %v, want ErrTokenNotFound", err)
	}
	if err := loginErrorFromCKR(fmt.Errorf("not a CKR"), 0); err == nil {
		t.Error("nil")
	}
}

func TestPINErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		e    *PINError
		want string
	}{
		{&PINError{TriesLeft: -1, Err: ErrPINIncorrect}, "signer: PIN incorrect"},
		{&PINError{TriesLeft: 1, FinalTry: true, Err: ErrPINIncorrect}, "signer: PIN incorrect (final try: one more wrong PIN locks the token)"},
		{&PINError{TriesLeft: 2, Err: ErrPINIncorrect}, "signer: PIN incorrect (2 tries left)"},
		{&PINError{TriesLeft: -1, CountLow: true, Err: ErrPINIncorrect}, "signer: PIN incorrect (few tries left)"},
		{&PINError{TriesLeft: 0, Err: ErrPINLocked}, "signer: PIN locked: the token must be unblocked with its SO PIN or PUK"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}
