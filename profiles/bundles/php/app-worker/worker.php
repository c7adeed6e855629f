<?php
// The app server's worker: takes jobs from a spool folder, one at a time.
$spool = '/var/spool/stemcell/jobs';
@mkdir($spool, 0755, true);
while (true) {
    foreach (glob("$spool/*.json") as $job) {
        $data = json_decode(file_get_contents($job), true) ?: [];
        $words = str_word_count($data['text'] ?? '');
        file_put_contents(preg_replace('/\.json$/', '.done', $job), json_encode(['job' => basename($job), 'words' => $words]));
        unlink($job);
    }
    sleep(1);
}
