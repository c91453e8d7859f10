package samtemplate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// The evidence bucket holds identity documents: these tests hold
// template.yaml to what docs/deployment.md promises of it. It is private,
// encrypted, owner-enforced, TLS-only, expires what it holds after
// RetentionDays, outlives the stack, and the functions reach only the
// objects under orgs/.

const (
	evidenceBucketID       = "EvidenceBucket"
	evidenceBucketPolicyID = "EvidenceBucketPolicy"
	// evidenceObjects is `!Sub ${EvidenceBucket.Arn}/orgs/*` as
	// evidenceTemplate reads it.
	evidenceObjects = evidenceBucketID + ".Arn/orgs/*"
	// Parameter values no default has, so that a property equal to one is
	// wired to its parameter.
	testRetentionDays = "737"
	testOrigins       = "https://app.example.com,https://kiosk.example.org"
)

// evidenceTemplate parses the repository's template with its Conditions
// evaluated, Refs to resources resolving to logical ids, Fn::GetAtt to
// "LogicalID.Attribute" (also inside Fn::Sub), and params set.
func evidenceTemplate(t *testing.T, params map[string]any) *cloudformation.Template {
	t.Helper()
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
		ParameterOverrides: params,
		EvaluateConditions: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestTemplateEvidenceBucket(t *testing.T) {
	tmpl := evidenceTemplate(t, map[string]any{"RetentionDays": testRetentionDays, "EvidenceUploadOrigins": testOrigins})
	b, err := tmpl.GetS3BucketWithName(evidenceBucketID)
	if err != nil {
		t.Fatal(err)
	}
	if b.AWSCloudFormationDeletionPolicy != "Retain" || b.AWSCloudFormationUpdateReplacePolicy != "Retain" {
		t.Errorf("DeletionPolicy %q, UpdateReplacePolicy %q, want both Retain (identity evidence must not vanish with the stack)",
			b.AWSCloudFormationDeletionPolicy, b.AWSCloudFormationUpdateReplacePolicy)
	}
	if b.BucketName != nil {
		t.Errorf("BucketName = %q, want none (CloudFormation names it, so that stacks do not collide)", *b.BucketName)
	}

	if p := b.PublicAccessBlockConfiguration; p == nil || !deref(p.BlockPublicAcls) || !deref(p.BlockPublicPolicy) ||
		!deref(p.IgnorePublicAcls) || !deref(p.RestrictPublicBuckets) {
		t.Errorf("PublicAccessBlockConfiguration = %+v, want all four true", p)
	}

	if e := b.BucketEncryption; e == nil || len(e.ServerSideEncryptionConfiguration) != 1 {
		t.Errorf("BucketEncryption = %+v, want one rule", e)
	} else if r := e.ServerSideEncryptionConfiguration[0]; r.ServerSideEncryptionByDefault == nil ||
		r.ServerSideEncryptionByDefault.SSEAlgorithm != "AES256" || !deref(r.BucketKeyEnabled) {
		t.Errorf("encryption rule %+v, want AES256 by default with BucketKeyEnabled", r)
	}

	var ownership []string
	if b.OwnershipControls != nil {
		for _, r := range b.OwnershipControls.Rules {
			ownership = append(ownership, deref(r.ObjectOwnership))
		}
	}
	if !slices.Equal(ownership, []string{"BucketOwnerEnforced"}) {
		t.Errorf("OwnershipControls = %v, want [BucketOwnerEnforced] (no ACLs: the bucket owns every object)", ownership)
	}

	var expiring bool
	var expiries []string
	if b.LifecycleConfiguration == nil {
		t.Error("no LifecycleConfiguration: evidence would be kept forever")
	} else {
		for _, r := range b.LifecycleConfiguration.Rules {
			expiries = append(expiries, fmt.Sprintf("%s %s after %v days", deref(r.Id), r.Status, showPtr(r.ExpirationInDays)))
			if r.Status != "Enabled" {
				continue
			}
			// A rule for every object: no prefix, tag or size filter.
			everyObject := r.Prefix == nil && len(r.TagFilters) == 0 && r.ObjectSizeGreaterThan == nil && r.ObjectSizeLessThan == nil
			if everyObject && r.ExpirationInDays != nil && fmt.Sprint(*r.ExpirationInDays) == testRetentionDays {
				expiring = true
				// A version a form's later post made noncurrent is kept as
				// long again, then goes too.
				if nv := r.NoncurrentVersionExpiration; nv == nil || fmt.Sprint(nv.NoncurrentDays) != testRetentionDays {
					t.Errorf("lifecycle rule %s: NoncurrentVersionExpiration = %+v, want after RetentionDays", deref(r.Id), nv)
				}
				if a := r.AbortIncompleteMultipartUpload; a == nil || a.DaysAfterInitiation != 1 {
					t.Errorf("lifecycle rule %s: AbortIncompleteMultipartUpload = %+v, want after 1 day", deref(r.Id), a)
				}
			}
		}
	}
	if !expiring {
		t.Errorf("no enabled lifecycle rule expires every object after RetentionDays (set to %s): rules %v", testRetentionDays, expiries)
	}

	// Versioned: a confirm records the version it checked, which a form
	// posting again cannot replace (docs/evidence.md).
	if v := b.VersioningConfiguration; v == nil || v.Status != "Enabled" {
		t.Errorf("VersioningConfiguration = %+v, want Enabled", v)
	}

	if c := b.CorsConfiguration; c == nil || len(c.CorsRules) != 1 {
		t.Errorf("CorsConfiguration = %+v, want one rule", c)
	} else {
		r := c.CorsRules[0]
		if !slices.Equal(r.AllowedMethods, []string{"POST"}) {
			t.Errorf("CORS AllowedMethods = %v, want [POST] (uploads only; downloads are presigned links)", r.AllowedMethods)
		}
		if want := strings.Split(testOrigins, ","); !slices.Equal(r.AllowedOrigins, want) {
			t.Errorf("CORS AllowedOrigins = %v, want the EvidenceUploadOrigins parameter %v", r.AllowedOrigins, want)
		}
		if !slices.Equal(r.AllowedHeaders, []string{"*"}) || deref(r.MaxAge) != 3000 {
			t.Errorf("CORS AllowedHeaders %v, MaxAge %v, want [*] and 3000", r.AllowedHeaders, deref(r.MaxAge))
		}
	}

	if o, ok := tmpl.Outputs["EvidenceBucketName"]; !ok || o.Value != evidenceBucketID {
		t.Errorf("output EvidenceBucketName = %+v, want a Ref to %s", tmpl.Outputs["EvidenceBucketName"], evidenceBucketID)
	}
}

// TestTemplateEvidenceBucketAtDefaults: the defaults deploy as documented:
// objects expire after RetentionDays' default, and any origin may post.
func TestTemplateEvidenceBucketAtDefaults(t *testing.T) {
	tmpl := evidenceTemplate(t, nil)
	b, err := tmpl.GetS3BucketWithName(evidenceBucketID)
	if err != nil {
		t.Fatal(err)
	}
	days := fmt.Sprint(tmpl.Parameters["RetentionDays"].Default)
	if b.LifecycleConfiguration == nil || len(b.LifecycleConfiguration.Rules) == 0 ||
		fmt.Sprint(deref(b.LifecycleConfiguration.Rules[0].ExpirationInDays)) != days {
		t.Errorf("lifecycle %+v, want expiry after RetentionDays' default %s", b.LifecycleConfiguration, days)
	}
	if c := b.CorsConfiguration; c == nil || len(c.CorsRules) == 0 || !slices.Equal(c.CorsRules[0].AllowedOrigins, []string{"*"}) {
		t.Errorf("CorsConfiguration %+v, want AllowedOrigins [*] by default", c)
	}
}

func TestTemplateEvidenceBucketPolicyRequiresTLS(t *testing.T) {
	tmpl := evidenceTemplate(t, nil)
	p, err := tmpl.GetS3BucketPolicyWithName(evidenceBucketPolicyID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Bucket != evidenceBucketID {
		t.Errorf("%s is on bucket %q, want %s", evidenceBucketPolicyID, p.Bucket, evidenceBucketID)
	}
	doc, _ := p.PolicyDocument.(map[string]any)
	statements, _ := doc["Statement"].([]any)
	found := false
	for _, raw := range statements {
		st, _ := raw.(map[string]any)
		if st["Effect"] == "Allow" {
			t.Errorf("%s allows %v: the bucket policy only denies; the functions' roles grant", evidenceBucketPolicyID, st["Action"])
		}
		if st["Effect"] != "Deny" || st["Principal"] != "*" || !slices.Equal(StringList(st["Action"]), []string{"s3:*"}) {
			continue
		}
		cond, _ := st["Condition"].(map[string]any)
		boolCond, _ := cond["Bool"].(map[string]any)
		if v := fmt.Sprint(boolCond["aws:SecureTransport"]); v != "false" || len(cond) != 1 || len(boolCond) != 1 {
			continue
		}
		found = true
		got := slices.Sorted(slices.Values(StringList(st["Resource"])))
		if want := []string{evidenceBucketID + ".Arn", evidenceBucketID + ".Arn/*"}; !slices.Equal(got, want) {
			t.Errorf("the TLS deny is on %v, want %v (the bucket and every object)", got, want)
		}
	}
	if !found {
		t.Errorf("%s has no statement denying s3:* to * when aws:SecureTransport is false: %v", evidenceBucketPolicyID, statements)
	}
}

// TestTemplateEvidenceGrantsAreObjectsUnderOrgs: a function's role may
// reach the evidence bucket only through object actions on orgs/*: never
// the bucket itself (listing, its policy, its configuration), never every
// resource, never a wildcard action. A function that may is told the bucket
// (EVIDENCE_BUCKET); one that may not is not.
func TestTemplateEvidenceGrantsAreObjectsUnderOrgs(t *testing.T) {
	tmpl := evidenceTemplate(t, nil)
	granted := 0
	for id, fn := range tmpl.GetAllServerlessFunctionResources() {
		hasS3 := false
		if fn.Policies != nil && fn.Policies.IAMPolicyDocumentArray != nil {
			for _, doc := range *fn.Policies.IAMPolicyDocumentArray {
				for _, raw := range doc.Statement {
					st, _ := raw.(map[string]any)
					actions, resources := StringList(st["Action"]), StringList(st["Resource"])
					s3Actions := slices.ContainsFunc(actions, func(a string) bool { return strings.HasPrefix(strings.ToLower(a), "s3:") })
					onBucket := slices.ContainsFunc(resources, func(r string) bool { return strings.Contains(r, evidenceBucketID) })
					if !s3Actions && !onBucket {
						continue
					}
					hasS3 = hasS3 || (s3Actions && st["Effect"] == "Allow")
					for _, a := range actions {
						if !strings.HasPrefix(strings.ToLower(a), "s3:") || strings.ContainsAny(a, "*?") {
							t.Errorf("function %s: statement grants %q with S3: only named s3: actions may be", id, a)
						}
					}
					for _, r := range resources {
						if r != evidenceObjects {
							t.Errorf("function %s: S3 actions %v on %q, want only %s (objects under orgs/, never the bucket or *)", id, actions, r, evidenceObjects)
						}
					}
					for _, k := range []string{"NotAction", "NotResource", "Condition"} {
						if _, ok := st[k]; ok {
							t.Errorf("function %s: an S3 statement uses %s", id, k)
						}
					}
				}
			}
		}
		if hasS3 {
			granted++
		}
		var env map[string]string
		if fn.Environment != nil {
			env = fn.Environment.Variables
		}
		if got, ok := env["EVIDENCE_BUCKET"]; hasS3 != ok || (ok && got != evidenceBucketID) {
			t.Errorf("function %s: EVIDENCE_BUCKET = %q (set %v), want a Ref to %s exactly when it has S3 grants (%v)", id, got, ok, evidenceBucketID, hasS3)
		}
	}
	if granted == 0 {
		t.Error("no function may reach the evidence bucket")
	}
}

// TestOpenReadsParameterValuesAsCloudFormationPassesThem: a Number
// parameter's value where an integer is wanted and a CommaDelimitedList's
// where a list is wanted read as CloudFormation passes them.
func TestOpenReadsParameterValuesAsCloudFormationPassesThem(t *testing.T) {
	path := writeTemplate(t, `    B:
      Type: AWS::S3::Bucket
      Properties:
        LifecycleConfiguration:
          Rules: [{Status: Enabled, ExpirationInDays: "12"}]
        CorsConfiguration:
          CorsRules: [{AllowedMethods: "POST", AllowedOrigins: "https://a.example,https://b.example"}]
`)
	tmpl, err := Template(path)
	if err != nil {
		t.Fatalf("Template error = %v", err)
	}
	b, err := tmpl.GetS3BucketWithName("B")
	if err != nil {
		t.Fatal(err)
	}
	if got := deref(b.LifecycleConfiguration.Rules[0].ExpirationInDays); got != 12 {
		t.Errorf("ExpirationInDays = %d, want 12", got)
	}
	r := b.CorsConfiguration.CorsRules[0]
	if !slices.Equal(r.AllowedMethods, []string{"POST"}) || !slices.Equal(r.AllowedOrigins, []string{"https://a.example", "https://b.example"}) {
		t.Errorf("CORS rule = %+v, want methods [POST] and both origins", r)
	}
}
