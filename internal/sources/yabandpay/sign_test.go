package yabandpay

import (
	"testing"
)

// The vectors of providers/facts.md 1.3: computed with a made-up key (the documents give none), checked with
// openssl; the first is the documents' getBalance string, the second a QueryOrder string.
var signVectors = []struct {
	name   string
	params map[string]string
	text   string
	want   string
}{
	{
		name: "getBalance",
		params: map[string]string{"user": "036870", "method": "v3.MerchantBalance", "time": "1708422208",
			"command": "getBalance", "nonce_string": "tw5be5b7sry5prm96s", "currency": "EUR"},
		text: "command=getBalance&currency=EUR&method=v3.MerchantBalance&nonce_string=tw5be5b7sry5prm96s&" +
			"time=1708422208&user=036870",
		want: "3efed58b26047e7d701aeed561615a75116e3105d97587b422800930bb35146d",
	},
	{
		name: "QueryOrder",
		params: map[string]string{"user": "016683", "method": "v3.QueryOrder", "time": "1728566835",
			"trade_id": "2eb629a8-96ad-d495-38f2-41f5bebf31cd"},
		text: "method=v3.QueryOrder&time=1728566835&trade_id=2eb629a8-96ad-d495-38f2-41f5bebf31cd&user=016683",
		want: "a8f60f1d3052b53612366f55dedc80d95b4bc95cb4a9701c4e6e9bb70f56290a",
	},
}

func TestSignVectors(t *testing.T) {
	t.Parallel()
	for _, v := range signVectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			if got := signingString(v.params); got != v.text {
				t.Errorf("signing string\n%s\nwant\n%s", got, v.text)
			}
			if got := Sign(v.params, "test_secret_key"); got != v.want {
				t.Errorf("Sign = %s, want %s", got, v.want)
			}
			// A sign parameter already present is not signed over.
			withSign := map[string]string{"sign": "9abdb20d59573ded6b415adf871aeddcb7896ad954e7828b39d9f14b65a3464a"}
			for k, val := range v.params {
				withSign[k] = val
			}
			if got := Sign(withSign, "test_secret_key"); got != v.want {
				t.Errorf("Sign with a sign parameter = %s, want %s", got, v.want)
			}
		})
	}
}

func TestSigningString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		params map[string]string
		want   string
	}{
		{"empty values are kept", map[string]string{"demo": "", "amount": "100.01", "cancel_url": ""},
			"amount=100.01&cancel_url=&demo="},
		{"values are not URL-encoded", map[string]string{"description": "YabandPay test & more",
			"notify_url": "https://www.yabandpay.com/notify?a=1"},
			"description=YabandPay test & more&notify_url=https://www.yabandpay.com/notify?a=1"},
		{"keys sort by bytes: upper case, then underscore, then lower case", map[string]string{"b": "1", "a_b": "2",
			"ab": "3", "Z": "4"}, "Z=4&a_b=2&ab=3&b=1"},
		{"keys are case-sensitive", map[string]string{"getTradebillinfo": "x", "getTradebillInfo": "y"},
			"getTradebillInfo=y&getTradebillinfo=x"},
		{"nothing to sign", map[string]string{}, ""},
		{"unicode as is", map[string]string{"description": "نوشته 中文"}, "description=نوشته 中文"},
	} {
		if got := signingString(tc.params); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
