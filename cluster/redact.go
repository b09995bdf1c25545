package cluster

import "net/url"

// redactURL hides the password of a Redis URL for logs and reports.
// TODO(shard): delegate to shard.RedactURL once package shard lands.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	return u.String()
}
