// Preflight of the npm scripts: run with plain `node` before any TypeScript file is loaded.
// Exits 0 when this Node satisfies package.json `engines.node` (a `>=X[.Y[.Z]]` range); otherwise
// prints one line naming the version needed and the command to run instead (argv[2], default
// `deploy/gw demo`), and exits 1. Written in ES5 so that any Node can parse it.
'use strict';
var fs = require('fs');
var path = require('path');

var instead = process.argv[2] || 'deploy/gw demo';
var range = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')).engines.node;
var wanted = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range);
if (!wanted) {
  process.stderr.write('package.json engines.node must be a ">=X.Y.Z" range, not ' + JSON.stringify(range) + '\n');
  process.exit(1);
}
var have = process.versions.node.split('.').map(Number);
var need = [Number(wanted[1]), Number(wanted[2] || 0), Number(wanted[3] || 0)];
for (var i = 0; i < 3; i++) {
  if (have[i] > need[i]) process.exit(0);
  if (have[i] < need[i]) {
    process.stderr.write(
      'This project needs Node ' + range + ' and this is Node v' + process.versions.node + ': run `' + instead + '` instead (it installs Node 24 into .tools/node).\n',
    );
    process.exit(1);
  }
}
process.exit(0);
