-- 008_metering_products: metering knows every shiren.v1.Product. Intake meters InitFaceVerify
-- of ID_PLUS (5) and MFVC (6) scenes, LivenessFaceVerify as LR_FR_MIN (7) and
-- CompareFaceVerify as PV_FC (8); 003 seeded prices for 1-4 only, and shiren-metering
-- dead-lettered the others as an unknown product. The same default whole-volume ladder as
-- 003 until an operator publishes real prices (shirenctl metering ladder publish).
INSERT INTO metering_ladders (product, version, mode, effective_from_ms, upto, unit_price, actor)
SELECT p, 1, 'volume', 0, '{100000,5000000,10000000,9223372036854775807}',
       '{4000,3500,3000,2600}', 'migration 008'
FROM generate_series(5, 8) AS p
ON CONFLICT (product, version) DO NOTHING;
