// Package referral tracks referrals between the territory's organisations
// in a closed loop: a referral read from the requester's system is routed
// to the connector that serves its receiving organisation, through a
// durable outbox, with the identity the receiver needs sealed in a delivery
// envelope; the status events that come back drive a state machine that
// refuses a change set by the wrong party or not allowed from the current
// status, and they are delivered back to the requester.
//
// Who may set which status, and a reason being mandatory for rejected,
// cancelled, on-hold and failed, are DOMAIN.md's rules; the transitions
// follow FHIR Task's life cycle (see CheckTransition).
package referral
