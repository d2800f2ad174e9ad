<?php
// The PHP baseline of `make bench` (bench/frontends.py runs it under PHP-FPM behind nginx): the
// request the service replaces, at its leanest. One durable autocommit INSERT of the posted
// body over a persistent PDO connection, answered 202. No auth, no parsing, no validation: an
// upper bound on what the PHP app did per request.
$pdo = new PDO(
    getenv('BENCH_PDO_DSN'),
    getenv('BENCH_DB_USER'),
    getenv('BENCH_DB_PASSWORD'),
    [PDO::ATTR_PERSISTENT => true, PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]
);
$body = file_get_contents('php://input');
$insert = $pdo->prepare('INSERT INTO bench_php (body) VALUES (?)');
$insert->bindValue(1, $body, PDO::PARAM_LOB);
$insert->execute();
http_response_code(202);
header('Content-Type: application/json');
echo json_encode(['job_id' => (int) $pdo->lastInsertId(), 'records' => 1]);
