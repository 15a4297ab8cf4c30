package dev.atelier.ledger.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class LedgerConfigTests {

    @Test
    void anExportPageOutOfRangeIsRefusedByName() {
        for (int absurd : new int[] {0, -1, LedgerConfig.MAX_EXPORT_PAGE + 1, Integer.MAX_VALUE}) {
            IllegalStateException refused = assertThrows(IllegalStateException.class,
                    () -> LedgerConfig.checkExportPage(absurd));
            assertTrue(refused.getMessage().contains("atelier.ledger.export-page is " + absurd), refused.getMessage());
        }
        assertDoesNotThrow(() -> LedgerConfig.checkExportPage(1));
        assertDoesNotThrow(() -> LedgerConfig.checkExportPage(2500));
        assertDoesNotThrow(() -> LedgerConfig.checkExportPage(LedgerConfig.MAX_EXPORT_PAGE));
    }
}
