<?php
header('Content-Type: application/json');
echo json_encode(['service' => 'stem cell app API', 'endpoints' => ['/api/health.php']]);
