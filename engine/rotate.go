package engine

import (
	"context"
	"encoding/base64"
	"fmt"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/secret"
	"github.com/opsflow/opsflow/engine/store"
)

func withOldKeys(box *secret.Box, old []string) (*secret.Box, error) {
	keys := make([][]byte, 0, len(old))
	for _, s := range old {
		k, err := secret.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("OPSFLOW_SECRET_KEY_OLD: %w", err)
		}
		keys = append(keys, k)
	}
	return box.WithOld(keys...)
}

// RotateCredentials re-seals every credential still sealed with an old key under the current
// one, each in its own short transaction, and returns how many it re-sealed. Processes that
// run with the new key and the old key listed as old keep working throughout; once this
// returns, the old key can be dropped. A credential no key opens stops the rotation.
func (e *Engine) RotateCredentials(ctx context.Context) (int, error) {
	var ids []string
	if err := e.Store.DB.WithContext(ctx).Model(&store.Credential{}).Order("id").Pluck("id", &ids).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var c store.Credential
			if err := tx.Where("id = ?", id).Take(&c).Error; err != nil {
				return store.NotFound(err)
			}
			plain, current, err := e.box.OpenCurrent(c.Ciphertext, []byte(c.ID))
			if err != nil {
				return fmt.Errorf("credential %s (%s): %w", c.Name, c.ID, err)
			}
			if current {
				return nil
			}
			n++
			return tx.Model(&store.Credential{}).Where("id = ?", c.ID).Update("ciphertext", e.box.Seal(plain, []byte(c.ID))).Error
		})
		if err != nil && err != store.ErrNotFound { // deleted meanwhile: nothing to rotate
			return n, err
		}
	}
	// Every credential is under the current key now: so is the key check value, so that the new
	// key alone starts and the old one is refused at start.
	check := base64.StdEncoding.EncodeToString(e.box.CheckValue())
	if err := e.Store.DB.WithContext(ctx).Model(&store.Setting{}).Where("key = ?", keyCheckSetting).Update("value", check).Error; err != nil {
		return n, fmt.Errorf("updating the key check value: %w", err)
	}
	return n, nil
}
