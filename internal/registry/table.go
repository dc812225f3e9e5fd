package registry

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// table is a Resource's rest.TableConvertor: one row per object, cells from
// Resource.Row, the full object attached (the apiserver trims it to
// PartialObjectMetadata or drops it as ?includeObject asks).
type table[T runtime.Object] struct{ r *Resource[T] }

func (t *table[T]) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	tab := &metav1.Table{ColumnDefinitions: t.r.Columns}
	// Watch events after the first ask for rows only.
	if opts, ok := tableOptions.(*metav1.TableOptions); ok && opts.NoHeaders {
		tab.ColumnDefinitions = nil
	}
	add := func(o runtime.Object) error {
		typed, ok := o.(T)
		if !ok {
			return fmt.Errorf("cannot print %T as %s", o, t.r.Resource)
		}
		row := metav1.TableRow{Cells: t.r.Row(typed), Object: runtime.RawExtension{Object: o}}
		if t.r.Conditions != nil {
			row.Conditions = t.r.Conditions(typed)
		}
		tab.Rows = append(tab.Rows, row)
		return nil
	}
	if meta.IsListType(obj) {
		if err := meta.EachListItem(obj, add); err != nil {
			return nil, err
		}
		if l, err := meta.ListAccessor(obj); err == nil {
			tab.ResourceVersion = l.GetResourceVersion()
			tab.Continue = l.GetContinue()
			tab.RemainingItemCount = l.GetRemainingItemCount()
		}
	} else {
		if err := add(obj); err != nil {
			return nil, err
		}
		if m, err := meta.Accessor(obj); err == nil {
			tab.ResourceVersion = m.GetResourceVersion()
		}
	}
	return tab, nil
}
