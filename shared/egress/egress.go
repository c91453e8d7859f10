// Package egress is the one way out to a URL an organisation registered
// (its webhook endpoint): every request to such a URL goes through Client,
// so that a URL cannot make us reach our own network, the machine, or the
// instance metadata service (server-side request forgery).
//
// The rules are in three places. CheckURL is what a URL must be to be
// registered: https, a DNS name or a public IP address written the one way
// every resolver reads alike, no user name, no fragment. Public is what an
// address must be to be connected to. Client.Post checks the URL again,
// resolves its host once, refuses the attempt if any address is not
// public, and connects to an address it checked: never to one the
// transport resolves again later, which a DNS answer that changes between
// the check and the connection (DNS rebinding) would otherwise turn into a
// private one. It follows no redirect, reads no proxy from the environment
// and keeps no connection between attempts.
//
// The package logs nothing; its errors say what went wrong in a few words
// of ours, never in the receiver's.
package egress
