package mapping_test

import (
	"fmt"

	"github.com/segloop/segloop/mapping"
)

func Example() {
	m, err := mapping.Parse([]byte(`{
		"userId": "{{item.id}}",
		"email": "{{item.email | trim | lower}}",
		"name": "{{item.first_name}} {{item.last_name}}",
		"traits": {"plan": "{{item.plan | default 'free'}}", "seats": "{{item.seats | int}}", "company": "Acme"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rows := []map[string]any{
		{"id": "u1", "email": " Ada@Example.com", "first_name": "Ada", "last_name": "Lovelace", "plan": "", "seats": "12"},
		{"id": "u2", "email": "bob@example.com", "seats": "abc"},
	}
	for i, row := range rows {
		id, err := m.Apply(mapping.Env{Item: row, Index: int64(i)})
		if err != nil {
			fmt.Println("invalid:", err)
			continue
		}
		fmt.Printf("%s %s %q %v\n", id.UserID, id.Email, id.Name, id.Traits)
	}
	// Output:
	// u1 ada@example.com "Ada Lovelace" map[company:Acme plan:free seats:12]
	// invalid: traits.seats: int: "abc" is not an integer
}

func ExampleDefault() {
	row := map[string]any{"user_id": "u1", "email": "ada@example.com", "plan": "pro", "seats": "", "_status": "failed", "traits": `{"vip": true}`}
	id, err := mapping.Default().Apply(mapping.Env{Item: row})
	fmt.Println(id.UserID, id.Email, id.Traits, err)
	// Output: u1 ada@example.com map[plan:pro vip:true] <nil>
}

func ExampleMapping_ForHeader() {
	header := []string{"id", "email", "plan", "traits"}
	m := mapping.Default().ForHeader(header) // once per header
	for _, row := range [][]string{
		{"u1", "ada@example.com", "pro", `{"company": "Acme", "plan": "free", "seats": 12}`},
		{"u2", "bob@example.com", "", "[1]"},
	} {
		id, err := m.Apply(mapping.Env{Row: row})
		if err != nil {
			fmt.Println("invalid:", err)
			continue
		}
		event, err := id.AppendJSON(nil) // the traits cell is checked and spliced here
		if err != nil {
			fmt.Println("invalid:", err)
			continue
		}
		fmt.Println(string(event))
	}
	// Output:
	// {"type":"identify","userId":"u1","traits":{"plan":"pro","company":"Acme","seats":12,"email":"ada@example.com"}}
	// invalid: traits: "[1]" is not a JSON object
}
