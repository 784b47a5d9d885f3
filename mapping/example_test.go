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
