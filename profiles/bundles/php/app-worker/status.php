<?php
// Status page of the worker box.
header('Content-Type: text/plain');
echo "worker: ready\n";
echo "queue: /var/spool/stemcell/jobs\n";
