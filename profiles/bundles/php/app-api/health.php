<?php
// The app server's API health endpoint.
header('Content-Type: application/json');
echo json_encode(['status' => 'ok', 'role' => 'app-api', 'host' => gethostname()]);
