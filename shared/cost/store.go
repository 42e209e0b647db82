package cost

// StoreMeasure is what the dynamo store's writes and reads cost per stored
// result, as its meter measures them (Measured, written by the store's
// TestGoals): the model prices DynamoDB from these figures rather than from
// its own idea of the schema, so the two cannot drift apart.
type StoreMeasure struct {
	// FieldsBytes is the measured page's fields as JSON text, and
	// CompressedFieldsBytes as the table stores them (gzip'd).
	FieldsBytes, CompressedFieldsBytes int
	// ChangedItemBytes and UnchangedItemBytes are the result item's size by
	// DynamoDB's count, for a page whose content changed since the
	// previous result (fields stored) and one whose did not (no fields:
	// the item names the result that holds them).
	ChangedItemBytes, UnchangedItemBytes int
	// IndexEntryBytes is the size of a result's entry in GSI1.
	IndexEntryBytes int
	// ChangedWRU, UnchangedWRU, ChangedRRU and UnchangedRRU are the units
	// one stored result costs, everything it causes included.
	ChangedWRU, UnchangedWRU, ChangedRRU, UnchangedRRU float64
	// PlannerRRUPerTarget is the planner's read per target and tick.
	PlannerRRUPerTarget float64
	// PutRunWRU is what recording a run costs.
	PutRunWRU float64
}
