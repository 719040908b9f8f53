-- 006_h5_risk: the escalated-challenge decision of an H5 capture (docs/api.md §5.7, "Risk").
-- NULL until decided; decided once per session, when the capture first needs its challenge
-- (today: the frame upload; the capture page will ask earlier), and kept, so the page and
-- shiren-liveness always draw the same challenge from the session's seed.
ALTER TABLE h5_sessions ADD COLUMN risk boolean;
