package platform

// lowWaterPaused is capped by Linux at half the receive buffer.
const lowWaterPaused = 1 << 30
