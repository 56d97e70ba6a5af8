import { connect } from 'node:net';
const cmd = (line) => new Promise((res, rej) => { const s = connect('/tmp/edge/admin.sock'); let a=''; s.setEncoding('utf8'); s.on('data', d => a+=d); s.once('error', rej); s.once('end', () => res(a)); s.end(line + '\n'); });
for (const l of ['add map /tmp/edge/sessions.map K1 V1', 'del map /tmp/edge/sessions.map NOPE;add map /tmp/edge/sessions.map K2 V2', 'del map /tmp/edge/sessions.map K1', 'show map /tmp/edge/sessions.map']) console.log(JSON.stringify(l), '→', JSON.stringify(await cmd(l)));
