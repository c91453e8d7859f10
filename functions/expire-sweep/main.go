// Command expire-sweep is the scheduled Lambda function (EventBridge, every
// 5 minutes by default) that marks open identifications EXPIRED once their
// expiry has passed. Everything but the entry point is in packages app and
// sweep.
package main

import "github.com/idadmin/api/shared/app"

func main() {
	app.SweepLambda()
}
