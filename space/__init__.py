"""S2S-Arena Space: listen to two anonymous spoken responses, vote, watch a Bradley-Terry leaderboard."""
