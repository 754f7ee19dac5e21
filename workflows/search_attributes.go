package workflows

import "go.temporal.io/sdk/temporal"

// Search attributes: support finds perkflow's workflows in the Temporal UI by these, typed and never personal data.
// The worker registers them in the namespace from SearchAttributeKeys; the workflows and the API set them through
// the same keys.
var (
	// SearchAttrMemberID is the member a workflow belongs to (`MemberId = "…"`): members, their challenge
	// enrolments and their redemptions.
	SearchAttrMemberID = temporal.NewSearchAttributeKeyKeyword("MemberId")
	// SearchAttrTier is the member's current tier code, kept up to date by the member workflow.
	SearchAttrTier = temporal.NewSearchAttributeKeyKeyword("Tier")
	// SearchAttrCampaignID is a campaign's id (`CampaignId = "…"`).
	SearchAttrCampaignID = temporal.NewSearchAttributeKeyKeyword("CampaignId")
	// SearchAttrRedemptionStatus is the redemption's status, kept current by the saga so support can search
	// `RedemptionStatus = "failed"`.
	SearchAttrRedemptionStatus = temporal.NewSearchAttributeKeyKeyword("RedemptionStatus")
)

// SearchAttributeKeys are every custom search attribute the workflows set.
func SearchAttributeKeys() []temporal.SearchAttributeKey {
	return []temporal.SearchAttributeKey{SearchAttrMemberID, SearchAttrTier, SearchAttrCampaignID, SearchAttrRedemptionStatus}
}
