"""File contents that installing packages puts on the disk (referenced by name
from data/packages.yaml). Written for the sandbox; they carry the directives the
simulated web server reads (Include*, DocumentRoot, Alias, DirectoryIndex) in the
layout of Debian's apache2 packaging."""

from __future__ import annotations

PAYLOADS: dict[str, str] = {
    "apache2.conf": """\
# Main Apache configuration (Debian layout): modules, ports and sites are
# included from the *-enabled directories managed by a2enmod / a2ensite.
DefaultRuntimeDir ${APACHE_RUN_DIR}
PidFile ${APACHE_PID_FILE}
Timeout 300
KeepAlive On
MaxKeepAliveRequests 100
KeepAliveTimeout 5
User ${APACHE_RUN_USER}
Group ${APACHE_RUN_GROUP}
HostnameLookups Off
ErrorLog ${APACHE_LOG_DIR}/error.log
LogLevel warn

IncludeOptional mods-enabled/*.load
IncludeOptional mods-enabled/*.conf
Include ports.conf

<Directory />
\tOptions FollowSymLinks
\tAllowOverride None
\tRequire all denied
</Directory>

<Directory /usr/share>
\tAllowOverride None
\tRequire all granted
</Directory>

<Directory /var/www/>
\tOptions Indexes FollowSymLinks
\tAllowOverride None
\tRequire all granted
</Directory>

AccessFileName .htaccess
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined

IncludeOptional conf-enabled/*.conf
IncludeOptional sites-enabled/*.conf
""",
    "ports.conf": """\
# Changing the port here also needs a change in sites-enabled/000-default.conf
Listen 80

<IfModule ssl_module>
\tListen 443
</IfModule>
""",
    "envvars": """\
export APACHE_RUN_USER=www-data
export APACHE_RUN_GROUP=www-data
export APACHE_PID_FILE=/var/run/apache2/apache2.pid
export APACHE_RUN_DIR=/var/run/apache2
export APACHE_LOCK_DIR=/var/lock/apache2
export APACHE_LOG_DIR=/var/log/apache2
export LANG=C
""",
    "000-default.conf": """\
<VirtualHost *:80>
\tServerAdmin webmaster@localhost
\tDocumentRoot /var/www/html

\tErrorLog ${APACHE_LOG_DIR}/error.log
\tCustomLog ${APACHE_LOG_DIR}/access.log combined
</VirtualHost>
""",
    "default-ssl.conf": """\
<VirtualHost *:443>
\tServerAdmin webmaster@localhost
\tDocumentRoot /var/www/html
\tSSLEngine on
\tSSLCertificateFile /etc/ssl/certs/ssl-cert-snakeoil.pem
\tSSLCertificateKeyFile /etc/ssl/private/ssl-cert-snakeoil.key
</VirtualHost>
""",
    "security.conf": """\
ServerTokens OS
ServerSignature On
TraceEnable Off
""",
    "ubuntu-default-page.html": """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Apache2 Ubuntu Default Page: It works</title>
</head>
<body>
<h1>Apache2 Ubuntu Default Page</h1>
<h2>It works!</h2>
<p>This is the default welcome page used to test the correct operation of the
Apache2 server after installation on Ubuntu systems. If you can read this page,
the Apache HTTP server installed at this site is working properly. You should
<b>replace this file</b> (located at <tt>/var/www/html/index.html</tt>) before
continuing to operate your HTTP server.</p>
<p>The configuration layout is rooted at <tt>/etc/apache2/</tt>: <tt>apache2.conf</tt>
includes <tt>ports.conf</tt> and everything in <tt>mods-enabled/</tt>,
<tt>conf-enabled/</tt> and <tt>sites-enabled/</tt>, managed with
<tt>a2enmod</tt>, <tt>a2enconf</tt> and <tt>a2ensite</tt>.</p>
</body>
</html>
""",
}
