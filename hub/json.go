package hub

import "encoding/json"

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func unmarshalJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }
