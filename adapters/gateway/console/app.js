// The SecureSign demo console: every action is a call to the gateway's
// public API, shown (request and answer) under the step that made it.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const state = {
    key: '', userId: '', userName: '', issueOtp: '', certificateId: '', certSerial: '',
    signOtp: '', signedPdf: null, signedName: '', events: null, auditNext: '', auditPaged: false, auditSeq: 0,
  };
  const keyStore = 'securesign-console-key';

  // ---- showing calls ------------------------------------------------------

  const statusText = {
    200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
    404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 413: 'Payload Too Large', 422: 'Unprocessable Entity',
    423: 'Locked', 429: 'Too Many Requests', 500: 'Internal Server Error', 503: 'Service Unavailable',
  };

  // shorten keeps long strings (base64, PEM) readable on screen.
  function shorten(v) {
    if (typeof v === 'string' && v.length > 160) {
      return v.slice(0, 48) + '… (' + v.length.toLocaleString('en') + ' characters)';
    }
    if (Array.isArray(v)) return v.map(shorten);
    if (v && typeof v === 'object') {
      const out = {};
      for (const k of Object.keys(v)) out[k] = shorten(v[k]);
      return out;
    }
    return v;
  }

  function maskKey(k) {
    return k ? k.slice(0, 24) + '…' : '';
  }

  function shq(s) {
    return "'" + s.replace(/'/g, "'\\''") + "'";
  }

  function curlOf(method, path, body) {
    let c = 'curl -s -X ' + method + ' "$GATEWAY' + path + '" -H "Authorization: Bearer $KEY"';
    if (body !== undefined) {
      c += " -H 'Content-Type: application/json' -d " + shq(JSON.stringify(body));
    }
    return 'GATEWAY=' + location.origin + '\n' + c;
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // show appends one exchange to a step's log, newest on top.
  function show(logId, x) {
    const log = $(logId);
    const d = el('details', 'x');
    d.open = true;
    const s = el('summary');
    s.append(el('span', 'm', x.method), ' ', el('span', 'p', x.path), ' ');
    const ok = x.status >= 200 && x.status < 300;
    s.append(el('span', 'st ' + (ok ? 'ok' : 'bad'), x.status ? x.status + ' ' + (statusText[x.status] || '') : 'no answer'));
    d.append(s);
    const pair = el('div', 'pair');
    let req = x.method + ' ' + x.path + '\n';
    if (x.auth) req += 'Authorization: Bearer ' + maskKey(state.key) + '\n';
    if (x.accept) req += 'Accept: ' + x.accept + '\n';
    if (x.body !== undefined) req += 'Content-Type: application/json\n\n' + JSON.stringify(shorten(x.body), null, 2);
    let res = x.status ? 'HTTP ' + x.status + ' ' + (statusText[x.status] || '') + '\n' : '';
    if (x.requestId) res += 'X-Request-Id: ' + x.requestId + '\n';
    if (x.contentType) res += 'Content-Type: ' + x.contentType + '\n';
    res += '\n';
    if (x.json !== undefined) res += JSON.stringify(shorten(x.json), null, 2);
    else if (x.note) res += x.note;
    const a = el('div'), b = el('div');
    a.append(el('h4', '', 'Request'), el('pre', 'req', req));
    b.append(el('h4', '', 'Response'), el('pre', 'res', res));
    pair.append(a, b);
    d.append(pair);
    if (x.auth) {
      const btn = el('button', 'secondary small copy', 'Copy as curl');
      btn.type = 'button';
      btn.addEventListener('click', () => copy(curlOf(x.method, x.path, x.body), btn));
      d.append(btn);
    }
    for (const old of log.querySelectorAll('details.x')) old.open = false;
    log.prepend(d);
  }

  function copy(text, btn) {
    const done = () => { const t = btn.textContent; btn.textContent = 'Copied'; setTimeout(() => { btn.textContent = t; }, 1200); };
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text));
    else fallbackCopy(text);
  }

  function fallbackCopy(text) {
    window.prompt('Copy:', text);
  }

  // api makes one call to the gateway and shows it in logId. It returns
  // {status, json}; a network failure has status 0.
  async function api(logId, method, path, body, opts) {
    opts = opts || {};
    const auth = opts.auth !== false;
    const headers = {};
    if (auth) headers['Authorization'] = 'Bearer ' + state.key;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const x = { method: method, path: path, body: body, auth: auth };
    let res;
    try {
      res = await fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
    } catch (e) {
      x.note = 'The gateway did not answer: ' + e.message;
      show(logId, x);
      return { status: 0, json: null };
    }
    x.status = res.status;
    x.requestId = res.headers.get('X-Request-Id') || '';
    x.contentType = res.headers.get('Content-Type') || '';
    let json = null;
    if (x.contentType.startsWith('application/json')) {
      json = await res.json();
      x.json = json;
    } else if (opts.binary) {
      x.blob = await res.blob();
      x.note = '(' + x.blob.size.toLocaleString('en') + ' bytes of ' + x.contentType + ')';
    }
    show(logId, x);
    if (res.status === 401 && auth) setKeyStatus('The gateway refused the key (401). Paste another, or ask for a new dev key.', true);
    if (opts.audit !== false) refreshAudit(true);
    return { status: res.status, json: json, blob: x.blob };
  }

  function say(id, text, bad) {
    const p = $(id);
    p.textContent = text;
    p.classList.toggle('bad', !!bad);
  }

  function errText(r) {
    if (!r.json) return r.status ? 'HTTP ' + r.status : 'No answer from the gateway.';
    return (r.json.error ? r.json.error + ': ' : '') + (r.json.message || 'HTTP ' + r.status) +
      (r.json.triesLeft !== undefined ? ' (' + r.json.triesLeft + ' tries left)' : '');
  }

  // shortWhen is a time for a table row: no year, 24-hour clock, zone.
  function shortWhen(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return iso || '';
    return d.toLocaleString(undefined, {
      month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false, timeZoneName: 'short',
    });
  }

  function when(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    if (isNaN(d)) return iso;
    return d.toLocaleString(undefined, {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
    });
  }

  function cnOf(dn) {
    const m = /(?:^|,)CN=((?:\\,|[^,])*)/.exec(dn || '');
    return m ? m[1].replace(/\\,/g, ',') : (dn || 'unknown');
  }

  // ---- buttons that need earlier steps ---------------------------------

  function refreshButtons() {
    const have = {
      key: !!state.key, user: !!state.key && !!state.userId, issueotp: !!state.issueOtp,
      cert: !!state.certificateId, signotp: !!state.signOtp, signed: !!state.signedPdf,
    };
    for (const b of document.querySelectorAll('[data-needs]')) {
      b.disabled = !have[b.dataset.needs];
    }
  }

  async function busy(btn, fn) {
    const free = !btn.dataset.needs && btn.id !== 'a-more';
    btn.disabled = true;
    btn.classList.add('busy');
    try {
      await fn();
    } finally {
      btn.classList.remove('busy');
      if (free) btn.disabled = false;
      refreshButtons();
    }
  }

  function on(id, fn) {
    const b = $(id);
    b.addEventListener('click', () => busy(b, fn));
  }

  // ---- 0: the key ---------------------------------------------------------

  function setKeyStatus(text, bad) { say('key-status', text, bad); }

  function useKey(k) {
    state.key = k.trim();
    if (state.key) {
      sessionStorage.setItem(keyStore, state.key);
      setKeyStatus('Using ' + maskKey(state.key) + ' (tenant of that key).');
    } else {
      sessionStorage.removeItem(keyStore);
      setKeyStatus('No key yet.');
    }
    $('key').value = state.key;
    refreshButtons();
    if (state.key) refreshAudit(false);
  }

  $('key-use').addEventListener('click', () => useKey($('key').value));
  $('key').addEventListener('keydown', (e) => { if (e.key === 'Enter') useKey($('key').value); });
  $('key-forget').addEventListener('click', () => useKey(''));
  on('key-new', async () => {
    const r = await api('log-key', 'POST', '/v1/dev/keys', undefined, { auth: false, audit: false });
    if (r.status === 201 && r.json && r.json.apiKey) {
      useKey(r.json.apiKey);
      setKeyStatus('New key for tenant "' + r.json.tenantId + '": ' + maskKey(r.json.apiKey) + ' (shown in full only in the answer below).');
    } else {
      setKeyStatus('No key: ' + errText(r), true);
    }
  });

  // ---- 1: user ------------------------------------------------------------

  $('u-ext').value = 'cust-' + Math.floor(10000 + Math.random() * 90000);

  on('u-create', async () => {
    const body = { externalId: $('u-ext').value.trim(), name: $('u-name').value.trim() };
    for (const [k, id] of [['email', 'u-email'], ['phone', 'u-phone'], ['state', 'u-state'], ['postalCode', 'u-pin'], ['locality', 'u-loc']]) {
      const v = $(id).value.trim();
      if (v) body[k] = v;
    }
    const r = await api('log-user', 'POST', '/v1/users', body);
    if (r.status === 201) {
      state.userId = r.json.userId;
      state.userName = r.json.name;
      say('u-status', 'Created ' + r.json.name + ' as ' + r.json.userId + '.');
    } else if (r.status === 409 && r.json && r.json.userId) {
      // The protocol answers an existing externalId with its user: carry on with it.
      const g = await api('log-user', 'GET', '/v1/users/' + encodeURIComponent(r.json.userId));
      if (g.status === 200) {
        state.userId = g.json.userId;
        state.userName = g.json.name;
        say('u-status', 'externalId exists: using ' + g.json.name + ' (' + g.json.userId + ').');
      }
    } else {
      say('u-status', 'Not created: ' + errText(r), true);
      return;
    }
    // A new user: codes and certificate of the previous one no longer apply.
    state.issueOtp = state.certificateId = state.signOtp = '';
  });

  // ---- 2: issue -----------------------------------------------------------

  // readCode asks the dev outbox for the code of otpId and puts it in input.
  async function readCode(logId, otpId, input) {
    const r = await api(logId, 'GET', '/v1/dev/otp/' + encodeURIComponent(otpId), undefined, { audit: false });
    if (r.status === 200) $(input).value = r.json.code;
    return r;
  }

  on('i-otp', async () => {
    const r = await api('log-issue', 'POST', '/v1/users/' + encodeURIComponent(state.userId) + '/otp', { purpose: 'issue' });
    if (r.status !== 201) { say('i-status', 'No code: ' + errText(r), true); return; }
    state.issueOtp = r.json.otpId;
    await readCode('log-issue', r.json.otpId, 'i-code');
    say('i-status', 'The user would read: “' + r.json.summary + '”. Code read from the dev outbox.');
  });

  on('i-issue', async () => {
    const body = { userId: state.userId, otpId: state.issueOtp, otp: $('i-code').value.trim(), profile: 'individual-signing', keyAlgo: $('i-algo').value };
    const r = await api('log-issue', 'POST', '/v1/certificates/issue', body);
    if (r.status === 201) {
      state.certificateId = r.json.certificateId;
      state.certSerial = r.json.serialNumber;
      state.issueOtp = '';
      say('i-status', 'Issued ' + r.json.certificateId + ' to ' + cnOf(r.json.subject) + ', serial ' + r.json.serialNumber +
        ', valid until ' + when(r.json.notAfter) + '. Its key stays in the gateway.');
    } else {
      say('i-status', 'Not issued: ' + errText(r), true);
      if (r.status === 401 && r.json && r.json.error === 'SS_OTP_EXPIRED') state.issueOtp = '';
    }
  });

  // ---- 3: sign ------------------------------------------------------------

  async function fileBytes(input) {
    const f = $(input).files[0];
    if (!f) return null;
    return { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
  }

  function hex(buf) {
    return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  function b64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s);
  }

  function unb64(s) {
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  function signedName(name) {
    return name.replace(/\.pdf$/i, '') + '-signed.pdf';
  }

  function offerDownload(id, bytes, name) {
    const a = $(id);
    if (a.href.startsWith('blob:')) URL.revokeObjectURL(a.href);
    a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/pdf' }));
    a.download = name;
    a.classList.remove('hidden');
  }

  let toSign = null; // the file the sign code names

  on('p-otp', async () => {
    const f = await fileBytes('p-file');
    if (!f) { say('p-status', 'Choose a PDF first.', true); return; }
    const sha = hex(await crypto.subtle.digest('SHA-256', f.bytes));
    const body = { purpose: 'sign', certificateId: state.certificateId, documents: [{ sha256: sha, name: f.name.slice(0, 120) }] };
    const r = await api('log-sign', 'POST', '/v1/users/' + encodeURIComponent(state.userId) + '/otp', body);
    if (r.status !== 201) { say('p-status', 'No code: ' + errText(r), true); return; }
    toSign = f;
    state.signOtp = r.json.otpId;
    await readCode('log-sign', r.json.otpId, 'p-code');
    say('p-status', 'The user would read: “' + r.json.summary + '”. Code read from the dev outbox.');
  });

  on('p-sign', async () => {
    const f = await fileBytes('p-file');
    if (!f) { say('p-status', 'Choose a PDF first.', true); return; }
    if (toSign && hex(await crypto.subtle.digest('SHA-256', f.bytes)) !== hex(await crypto.subtle.digest('SHA-256', toSign.bytes))) {
      say('p-status', 'This is not the PDF the code names: the gateway will refuse it (SS_OTP_MISMATCH) and spend the code.', true);
    }
    const body = {
      pdfBase64: b64(f.bytes), certificateId: state.certificateId, otpId: state.signOtp, otp: $('p-code').value.trim(),
      level: $('p-level').value, reason: $('p-reason').value.trim(), location: $('p-location').value.trim(),
    };
    if (!body.reason) delete body.reason;
    if (!body.location) delete body.location;
    const r = await api('log-sign', 'POST', '/v1/sign/pdf', body);
    if (r.status === 200) {
      state.signedPdf = unb64(r.json.signedPdfBase64);
      state.signedName = signedName(f.name);
      state.signOtp = '';
      offerDownload('p-download', state.signedPdf, state.signedName);
      say('p-status', 'Signed (' + body.level + ', field ' + r.json.signatureField + (r.json.repaired ? ', file repaired first' : '') +
        '): ' + state.signedPdf.length.toLocaleString('en') + ' bytes.');
    } else {
      say('p-status', 'Not signed: ' + errText(r), true);
      if (r.json && (r.json.error === 'SS_OTP_MISMATCH' || r.json.error === 'SS_OTP_EXPIRED' || r.json.error === 'SS_OTP_LOCKED')) state.signOtp = '';
    }
  });

  // ---- 4: validate ----------------------------------------------------------

  const words = {
    indication: { TOTAL_PASSED: 'Valid', INDETERMINATE: 'Cannot be confirmed', TOTAL_FAILED: 'Not valid' },
    integrity: { ok: 'The signed bytes are unchanged.', failed: 'The signed bytes were changed: the signature does not match them.', unsupported: 'The signature uses an algorithm or encoding this validator does not check.' },
    coverage: { 'whole-file': 'It covers the whole file.', 'whole-revision': 'It covers its revision; later revisions were added after it.', partial: 'It leaves bytes of its revision uncovered.' },
    modifiedAfter: {
      none: 'Nothing was changed after signing.', 'signatures-and-timestamps': 'Later, only signatures or timestamps were added.',
      dss: 'Later, only validation data was added.', 'form-filling': 'Later, form fields were filled in.',
      annotations: 'Later, comments or annotations were added.', other: 'The content was changed after signing.',
    },
    chain: { trusted: 'The certificate chains to a root this gateway trusts.', untrusted: 'The certificate does not chain to a root this gateway trusts.', expired: 'A certificate of the chain has expired.', invalid: 'The certificate chain is invalid.' },
    revocation: { good: 'The certificate is not revoked.', revoked: 'The certificate is revoked.', unknown: 'Whether the certificate is revoked could not be found out.', 'not-checked': 'Revocation was not checked.' },
  };

  function renderReport(rep, fileName) {
    const box = $('v-report');
    box.replaceChildren();
    box.classList.remove('hidden', 'good', 'bad');
    const sigs = rep.signatures || [];
    box.classList.add(rep.valid ? 'good' : 'bad');
    let head;
    if (sigs.length === 0) head = fileName + ' has no signatures.';
    else head = (rep.valid ? 'Valid: ' : 'Not valid: ') + fileName + ' has ' + sigs.length + ' signature' + (sigs.length > 1 ? 's' : '') +
      (rep.valid ? ', all valid.' : '; see below.');
    box.append(el('p', 'verdict', head));
    box.append(el('p', 'small', 'Judged at ' + when(rep.validationTime) + '.'));
    sigs.forEach((s, i) => {
      const card = el('div', 'sig');
      const ind = words.indication[s.indication] || s.indication;
      const title = (s.kind === 'document-timestamp' ? 'Document timestamp' : 'Signature ' + (i + 1)) + ': ' + ind;
      card.append(el('h4', s.indication === 'TOTAL_PASSED' ? 'ok' : 'bad', title));
      const ul = el('ul');
      const li = (t) => { if (t) ul.append(el('li', '', t)); };
      if (s.signer) li((s.kind === 'document-timestamp' ? 'By ' : 'Signed by ') + cnOf(s.signer.subject) + ', certificate serial ' + s.signer.serialNumber + ', issued by ' + cnOf(s.signer.issuer) + '.');
      if (s.timestamp && s.timestamp.time) li('Time proved by a timestamp of ' + cnOf(s.timestamp.tsa) + ': ' + when(s.timestamp.time) + '.');
      else if (s.signingTime) li('Signing time claimed by the signer (no timestamp): ' + when(s.signingTime) + '.');
      if (s.level) li('Level ' + s.level + '.');
      li(words.integrity[s.integrity]);
      li(words.coverage[s.coverage]);
      li(words.modifiedAfter[s.modifiedAfter]);
      li(words.chain[s.chain]);
      li(words.revocation[s.revocation]);
      for (const m of s.messages || []) li(m);
      card.append(ul);
      card.append(el('p', 'small mono', s.indication + (s.subIndication ? ' / ' + s.subIndication : '') + ' · field ' + s.field));
      box.append(card);
    });
  }

  async function verify(bytes, name) {
    const r = await api('log-verify', 'POST', '/v1/verify/pdf', { pdfBase64: b64(bytes) });
    if (r.status === 200) renderReport(r.json, name);
    else {
      const box = $('v-report');
      box.replaceChildren(el('p', 'verdict', 'Not validated: ' + errText(r)));
      box.classList.remove('hidden', 'good');
      box.classList.add('bad');
    }
  }

  on('v-signed', () => verify(state.signedPdf, state.signedName));
  on('v-go', async () => {
    const f = await fileBytes('v-file');
    if (!f) { $('v-report').classList.remove('hidden'); $('v-report').textContent = 'Choose a PDF first.'; return; }
    await verify(f.bytes, f.name);
  });

  // ---- 5: token session -----------------------------------------------------

  $('t-kind').addEventListener('change', () => {
    const pdf = $('t-kind').value === 'pdf';
    $('t-hash-row').classList.toggle('hidden', pdf);
    $('t-pdf-row').classList.toggle('hidden', !pdf);
  });

  const stateWords = {
    pending: 'Waiting for the signing app…', failed: 'The app reported a failure; the link stays open until it expires.',
    signed: 'Signed', expired: 'Expired: start a new session.',
  };

  function watch(s) {
    if (state.events) state.events.close();
    show('log-token', { method: 'GET', path: new URL(s.watchUrl).pathname + '?cap=…', accept: 'text/event-stream', status: 200,
      contentType: 'text/event-stream', note: 'EventSource(watchUrl): no API key; one status event at once and at every change.' });
    const es = new EventSource(s.watchUrl);
    state.events = es;
    es.addEventListener('status', async (ev) => {
      const w = JSON.parse(ev.data);
      const p = $('t-state');
      p.textContent = stateWords[w.status] + (w.error ? ' (' + w.error + ')' : '');
      p.className = 'state ' + w.status;
      if (w.status === 'signed' || w.status === 'expired') {
        es.close();
        state.events = null;
        if (w.status === 'signed') await signedSession(s);
      }
    });
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) state.events = null; };
  }

  async function signedSession(s) {
    const r = await api('log-token', 'GET', '/v1/sessions/' + encodeURIComponent(s.requestId));
    if (r.status === 200 && r.json.signedPdfBase64) {
      offerDownload('t-download', unb64(r.json.signedPdfBase64), 'session-signed.pdf');
    }
  }

  on('t-start', async () => {
    const doc = $('t-doc').value.trim();
    let r;
    if ($('t-kind').value === 'pdf') {
      const f = await fileBytes('t-file');
      if (!f) { say('t-status', 'Choose a PDF first.', true); return; }
      const body = { pdfBase64: b64(f.bytes), certSerial: $('t-serial').value.trim(), level: 'B-T' };
      if (doc) body.doc = doc;
      r = await api('log-token', 'POST', '/v1/sign/pdf', body);
    } else {
      const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode($('t-text').value));
      const body = { hashBase64: b64(new Uint8Array(d)), hashAlgo: 'SHA256' };
      if (doc) body.doc = doc;
      r = await api('log-token', 'POST', '/v1/sign/hash', body);
    }
    const box = $('t-session');
    if (r.status !== 201) {
      box.classList.add('hidden');
      say('t-status', 'Not started: ' + errText(r), true);
      return;
    }
    const s = r.json;
    say('t-status', 'Session ' + s.requestId + ': the QR code and the status below need no API key.');
    box.classList.remove('hidden');
    $('t-download').classList.add('hidden');
    $('t-qr').src = s.qrUrl;
    $('t-link').href = s.deepLink;
    $('t-linktext').textContent = s.deepLink;
    $('t-exp').textContent = when(s.expiresAt);
    $('t-state').textContent = stateWords.pending;
    $('t-state').className = 'state pending';
    $('t-copy').onclick = () => copy(s.deepLink, $('t-copy'));
    watch(s);
  });

  // ---- 6: audit -------------------------------------------------------------

  let auditTimer = 0;

  // refreshAudit reloads the first page after a call (soon: once it has
  // settled), unless the reader has paged to older entries.
  function refreshAudit(soon) {
    if (!state.key || state.auditPaged) return;
    clearTimeout(auditTimer);
    auditTimer = setTimeout(() => loadAudit(false), soon ? 300 : 0);
  }

  function auditRow(e) {
    const tr = el('tr');
    const outcome = e.outcome || '';
    const cells = [shortWhen(e.at), e.action, outcome, e.actor, e.detail || '', e.requestId || ''];
    const labels = ['Time', 'Action', 'Outcome', 'Actor', 'Detail', 'Session'];
    cells.forEach((c, i) => {
      const td = el('td', i === 2 && outcome ? 'o-' + outcome : '', c);
      td.dataset.label = labels[i];
      tr.append(td);
    });
    return tr;
  }

  async function loadAudit(more) {
    clearTimeout(auditTimer);
    state.auditPaged = more;
    const seq = ++state.auditSeq; // a later load wins over one still running
    let path = '/v1/audit/logs?limit=10';
    if (more && state.auditNext) path += '&next=' + encodeURIComponent(state.auditNext);
    const r = await api('log-audit', 'GET', path, undefined, { audit: false });
    const tbody = $('a-table').querySelector('tbody');
    if (seq !== state.auditSeq) return;
    if (r.status !== 200) { say('a-status', 'Not loaded: ' + errText(r), true); return; }
    if (!more) tbody.replaceChildren();
    for (const e of r.json.entries || []) tbody.append(auditRow(e));
    state.auditNext = r.json.next || '';
    $('a-more').disabled = !state.auditNext;
    const n = tbody.children.length;
    say('a-status', n + ' entr' + (n === 1 ? 'y' : 'ies') + ' shown' + (state.auditNext ? '; older ones: “Older entries”.' : '; that is all.'));
    // Only the latest two pages of calls stay open in the log.
    const logs = $('log-audit').querySelectorAll('details.x');
    for (let i = 3; i < logs.length; i++) logs[i].remove();
  }

  on('a-load', () => loadAudit(false));
  on('a-more', () => loadAudit(true));

  // ---- start ----------------------------------------------------------------

  useKey(sessionStorage.getItem(keyStore) || '');
})();
