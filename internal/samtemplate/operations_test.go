package samtemplate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/cloudformation/cloudwatch"
	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/idadmin/api/shared/dynamostore"
)

// The operational safety template.yaml promises a platform team: these
// tests read it with its Conditions evaluated, at the parameters' defaults
// and with parameters set, so that a function added without its alarms, or
// a parameter wired to nothing, fails here.

const testTopic = "arn:aws:sns:eu-west-1:123456789012:idadmin-ops"

// operationsTemplate parses the repository's template with params set and
// its Conditions evaluated, Refs to resources resolving to logical ids.
func operationsTemplate(t *testing.T, params map[string]any) *cloudformation.Template {
	t.Helper()
	tmpl, err := Open(repoTemplate(t), &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref":     refToLogicalID,
			"Fn::Sub": SubHandler(refToLogicalID, nil),
		},
		ParameterOverrides: params,
		EvaluateConditions: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tmpl.GetAllServerlessFunctionResources()) == 0 {
		t.Fatal("template has no functions")
	}
	return tmpl
}

func TestTemplateAlarmsWatchEveryFunction(t *testing.T) {
	for _, tt := range []struct {
		name        string
		params      map[string]any
		wantActions []string
	}{
		{"AlarmTopicArn empty (default)", nil, nil},
		{"AlarmTopicArn set", map[string]any{"AlarmTopicArn": testTopic}, []string{testTopic}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := operationsTemplate(t, tt.params)
			alarms := tmpl.GetAllCloudWatchAlarmResources()
			for id := range tmpl.GetAllServerlessFunctionResources() {
				stem := strings.TrimSuffix(id, "Function")
				for _, metric := range []string{"Errors", "Throttles"} {
					alarmID := stem + metric + "Alarm"
					a, ok := alarms[alarmID]
					if !ok {
						t.Errorf("function %s has no alarm %s on its %s", id, alarmID, metric)
						continue
					}
					checkLambdaAlarm(t, alarmID, a, id, metric)
				}
			}
			for id, a := range alarms {
				if !slices.Equal(a.AlarmActions, tt.wantActions) || !slices.Equal(a.OKActions, tt.wantActions) {
					t.Errorf("alarm %s: AlarmActions %v, OKActions %v, want both %v", id, a.AlarmActions, a.OKActions, tt.wantActions)
				}
			}
		})
	}
}

// checkLambdaAlarm checks that alarm id goes off on one data point of
// metric of function fn in five minutes and ignores quiet periods.
func checkLambdaAlarm(t *testing.T, id string, a *cloudwatch.Alarm, fn, metric string) {
	t.Helper()
	if got := deref(a.Namespace) + "/" + deref(a.MetricName); got != "AWS/Lambda/"+metric {
		t.Errorf("alarm %s watches %s, want AWS/Lambda/%s", id, got, metric)
	}
	var dims []string
	for _, d := range a.Dimensions {
		dims = append(dims, d.Name+"="+d.Value)
	}
	if want := []string{"FunctionName=" + fn}; !slices.Equal(dims, want) {
		t.Errorf("alarm %s: Dimensions = %v, want %v", id, dims, want)
	}
	if deref(a.Statistic) != "Sum" || deref(a.Threshold) != 1 || a.ComparisonOperator != "GreaterThanOrEqualToThreshold" {
		t.Errorf("alarm %s: %s %s %v, want Sum GreaterThanOrEqualToThreshold 1", id, deref(a.Statistic), a.ComparisonOperator, deref(a.Threshold))
	}
	if p := deref(a.Period); p <= 0 || p*a.EvaluationPeriods > 300 {
		t.Errorf("alarm %s: %d periods of %d s, want at most five minutes", id, a.EvaluationPeriods, p)
	}
	if got := deref(a.TreatMissingData); got != "notBreaching" {
		t.Errorf("alarm %s: TreatMissingData = %q, want notBreaching (no invocations is no failure)", id, got)
	}
}

func TestTemplateReservedConcurrency(t *testing.T) {
	for _, tt := range []struct {
		name   string
		params map[string]any
		want   *int
	}{
		{"FunctionReservedConcurrency 0 (default)", nil, nil},
		{"FunctionReservedConcurrency set", map[string]any{"FunctionReservedConcurrency": 25}, ptr(25)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := operationsTemplate(t, tt.params)
			global, err := tmpl.GetServerlessGlobalFunction()
			if err != nil {
				t.Fatal(err)
			}
			if got := global.ReservedConcurrentExecutions; !equalPtr(got, tt.want) {
				t.Errorf("Globals.Function.ReservedConcurrentExecutions = %v, want %v", showPtr(got), showPtr(tt.want))
			}
			for id, fn := range tmpl.GetAllServerlessFunctionResources() {
				if fn.ReservedConcurrentExecutions != nil {
					t.Errorf("function %s sets its own ReservedConcurrentExecutions; FunctionReservedConcurrency (Globals) must cap every function", id)
				}
			}
		})
	}
}

func TestTemplateApiThrottling(t *testing.T) {
	defaults := operationsTemplate(t, nil)
	set := operationsTemplate(t, map[string]any{"ApiThrottlingBurstLimit": 7, "ApiThrottlingRateLimit": 3.5})
	for _, tt := range []struct {
		name        string
		tmpl        *cloudformation.Template
		burst, rate any // the parameters' values
	}{
		{"defaults", defaults, defaults.Parameters["ApiThrottlingBurstLimit"].Default, defaults.Parameters["ApiThrottlingRateLimit"].Default},
		{"set", set, 7.0, 3.5},
	} {
		apis := tt.tmpl.GetAllServerlessHttpApiResources()
		if len(apis) == 0 {
			t.Fatal("template has no HTTP API")
		}
		for id, api := range apis {
			s := api.DefaultRouteSettings
			if s == nil || s.ThrottlingBurstLimit == nil || s.ThrottlingRateLimit == nil {
				t.Errorf("%s: HTTP API %s has no default route throttling (DefaultRouteSettings)", tt.name, id)
				continue
			}
			if got := float64(*s.ThrottlingBurstLimit); got != toFloat(tt.burst) || got <= 0 {
				t.Errorf("%s: %s ThrottlingBurstLimit = %v, want ApiThrottlingBurstLimit %v (> 0)", tt.name, id, got, tt.burst)
			}
			if got := *s.ThrottlingRateLimit; got != toFloat(tt.rate) || got <= 0 {
				t.Errorf("%s: %s ThrottlingRateLimit = %v, want ApiThrottlingRateLimit %v (> 0)", tt.name, id, got, tt.rate)
			}
		}
	}
}

// TestTemplateLogGroupsOutliveTheStack: logs stay readable after the stack
// (or a replaced function) is gone, until RetentionInDays ages them out.
func TestTemplateLogGroupsOutliveTheStack(t *testing.T) {
	tmpl := operationsTemplate(t, nil)
	groups := tmpl.GetAllLogsLogGroupResources()
	if len(groups) == 0 {
		t.Fatal("template has no log groups")
	}
	for id, g := range groups {
		if g.AWSCloudFormationDeletionPolicy != "Retain" || g.AWSCloudFormationUpdateReplacePolicy != "Retain" {
			t.Errorf("log group %s: DeletionPolicy %q, UpdateReplacePolicy %q, want both Retain",
				id, g.AWSCloudFormationDeletionPolicy, g.AWSCloudFormationUpdateReplacePolicy)
		}
		if g.RetentionInDays == nil {
			t.Errorf("log group %s keeps logs forever; set RetentionInDays", id)
		}
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func ptr[T any](v T) *T { return &v }

func equalPtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func showPtr[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// toFloat reads a parameter value: a YAML number or a numeric string.
func toFloat(v any) float64 {
	switch v := v.(type) {
	case float64:
		return v
	case int:
		return float64(v)
	case string:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	}
	return -1
}

// TestTemplateStreamProcessing: the stream function is fed by the table's
// stream as docs/delivery-and-events.md says: new and old images, partial
// batch responses, bisection, bounded retries, the dead-letter queue, a
// filter for process items and new guard events (dynamostore.StreamFilterPatterns, the dev
// server's too); and the queue is alarmed.
func TestTemplateStreamProcessing(t *testing.T) {
	getAtt := func(_ string, input, _ any) any {
		if l, ok := input.([]any); ok && len(l) == 2 {
			return fmt.Sprint(l[0], ".", l[1])
		}
		if s, ok := input.(string); ok {
			return s
		}
		return nil
	}
	tmpl, err := Open(repoTemplate(t), &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{"Ref": refToLogicalID, "Fn::GetAtt": getAtt,
			"Fn::Sub": SubHandler(refToLogicalID, getAtt)},
		ParameterOverrides: map[string]any{"SenderEmailIdentity": "codes@example.com"},
		EvaluateConditions: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	table, err := tmpl.GetDynamoDBTableWithName(TableLogicalID)
	if err != nil {
		t.Fatal(err)
	}
	if s := table.StreamSpecification; s == nil || s.StreamViewType != "NEW_AND_OLD_IMAGES" {
		t.Errorf("table stream %+v, want NEW_AND_OLD_IMAGES", table.StreamSpecification)
	}
	m, err := tmpl.GetLambdaEventSourceMappingWithName("StreamEventSourceMapping")
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case m.FunctionName != "StreamFunction":
		t.Errorf("mapping feeds %q", m.FunctionName)
	case m.BisectBatchOnFunctionError == nil || !*m.BisectBatchOnFunctionError:
		t.Error("no bisection on error")
	case m.MaximumRetryAttempts == nil || *m.MaximumRetryAttempts < 1 || *m.MaximumRetryAttempts > 10:
		t.Errorf("retries %v, want bounded", m.MaximumRetryAttempts)
	case !slices.Equal(m.FunctionResponseTypes, []string{"ReportBatchItemFailures"}):
		t.Errorf("response types %v", m.FunctionResponseTypes)
	case m.DestinationConfig == nil || m.DestinationConfig.OnFailure == nil || m.DestinationConfig.OnFailure.Destination == nil ||
		*m.DestinationConfig.OnFailure.Destination != "StreamDeadLetterQueue.Arn":
		t.Error("no on-failure destination on the dead-letter queue")
	case m.FilterCriteria == nil || len(m.FilterCriteria.Filters) != len(dynamostore.StreamFilterPatterns):
		t.Errorf("filter %+v, want %d patterns", m.FilterCriteria, len(dynamostore.StreamFilterPatterns))
	default:
		// The filters of the table's stream: the dev server's reader
		// applies dynamostore.StreamFilterPatterns, so the two must be one.
		for n, f := range m.FilterCriteria.Filters {
			var got, want any
			if f.Pattern == nil {
				t.Errorf("filter %d has no pattern", n)
				continue
			}
			if err := json.Unmarshal([]byte(*f.Pattern), &got); err != nil {
				t.Errorf("filter pattern: %v", err)
			}
			if err := json.Unmarshal([]byte(dynamostore.StreamFilterPatterns[n]), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("filter pattern %s, want dynamostore.StreamFilterPatterns[%d] %s", *f.Pattern, n, dynamostore.StreamFilterPatterns[n])
			}
		}
	}
	alarm, err := tmpl.GetCloudWatchAlarmWithName("StreamDeadLetterAlarm")
	if err != nil || alarm.Namespace == nil || *alarm.Namespace != "AWS/SQS" || alarm.MetricName == nil || *alarm.MetricName != "ApproximateNumberOfMessagesVisible" {
		t.Errorf("dead-letter alarm %+v, %v", alarm, err)
	}
}
