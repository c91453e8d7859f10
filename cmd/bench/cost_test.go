package main

import (
	"math"
	"testing"
)

// TestPrice prices a verification by hand: 10 write and 4 read units, 2
// API requests of 10 ms at 1024 MB and 1.2 ms at 512 MB (billed as 2 ms),
// 3 stream invocations of 100 ms at 2048 MB, 4 events.
func TestPrice(t *testing.T) {
	p := price(costInputs{wcu: 10, rcu: 4, events: 4, invocations: map[string]float64{"stream": 3},
		requests: map[string]int{"a": 1, "b": 1}, memoryMB: map[string]int{"a": 1024, "b": 512, "stream": 2048},
		ms: map[string]float64{"a": 10, "b": 1.2, "stream": 100}})
	gbs := 0.010*1 + 0.002*0.5 + 3*0.100*2
	want := map[string]float64{
		"dynamodb":    10*dynamoDBUSDPerMillionWRU + 4*dynamoDBUSDPerMillionRRU,
		"lambda":      5*lambdaUSDPerMillionRequests + gbs*lambdaArmUSDPerGBSecond*1e6,
		"apigateway":  2 * httpAPIUSDPerMillionRequests,
		"eventbridge": 4 * eventBridgeUSDPerMillionEvents,
	}
	total := 0.0
	for k, v := range want {
		total += v
		if math.Abs(p.parts[k]-v) > 1e-9 {
			t.Errorf("%s: $%v per million, want $%v", k, p.parts[k], v)
		}
	}
	if math.Abs(p.total-total) > 1e-9 {
		t.Errorf("total $%v, want $%v", p.total, total)
	}
}
