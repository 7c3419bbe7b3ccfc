package apiclient

import (
	"context"
	"strconv"

	"github.com/breachnotify/breachnotify/notifier"
)

// DeliveryQuery filters a delivery list; zero fields mean any.
type DeliveryQuery struct {
	Page
	Wave   int64
	Notice int64
	Status notifier.DeliveryStatus
}

// ListDeliveries returns one page of deliveries.
func (c *Client) ListDeliveries(ctx context.Context, q DeliveryQuery) (notifier.ListResult[notifier.Delivery], error) {
	v := q.values()
	if q.Wave > 0 {
		v.Set("wave", strconv.FormatInt(q.Wave, 10))
	}
	if q.Notice > 0 {
		v.Set("notice", strconv.FormatInt(q.Notice, 10))
	}
	if q.Status != "" {
		v.Set("status", string(q.Status))
	}
	var out notifier.ListResult[notifier.Delivery]
	return out, c.get(ctx, "/api/v1/deliveries", v, &out)
}
