// Snodo regional dashboard: a single page in plain JavaScript over the
// comparison API (/api/v1/compare/*). No framework, no build step, no
// inline script (the server's Content-Security-Policy forbids it).
// Every chart is an inline SVG with an aria-label, a data-testid, the
// numbers it draws in data-* attributes (so a browser test can compare
// them with the API), and the table behind it.
'use strict';

(() => {
  const API = (document.querySelector('meta[name="snodo-api"]') || {}).content || '/api/v1/compare';
  const TOKEN_KEY = 'snodo-viewer-token';
  const LANG_KEY = 'snodo-lang';
  const SVGNS = 'http://www.w3.org/2000/svg';
  const C = {
    primary: '#0066cc', dark: '#003366', text: '#17324d', muted: '#455b71', grid: '#e3e4e6',
    accent: '#d1344c', peers: '#5c6f82', hatch: '#8a9bab', band: '#cfe0f3', second: '#e07b00',
  };

  // ---- Dictionary -------------------------------------------------------
  const DICT = {
    it: {
      skip: 'Vai al contenuto', region: 'Regione', brandTitle: 'Confronti regionali',
      brandSub: 'Snodo · confronto tra i territori dei servizi sociali',
      navOverview: 'Panoramica', navIndicators: 'Indicatori', navTerritories: 'Territori', navLabel: 'Principale',
      loading: 'Caricamento…', home: 'Panoramica',
      overviewTitle: 'Panoramica degli indicatori',
      overviewLead: (r) => `Come si confrontano i territori della Regione ${r}. Per ogni indicatore: il valore regionale, quanti territori contribuiscono e l'intervallo tra il territorio più basso e il più alto. Aprite un indicatore per il confronto tra territori.`,
      epoch: 'Periodo', indicator: 'Indicatore', territory: 'Territorio', exportLabel: 'Esporta',
      csv: 'CSV', json: 'JSON',
      year: (y) => `Anno ${y}`, quarter: (y, q) => `${q}° trimestre ${y}`, window: (a, b) => `${a} – ${b}`,
      coverage: (c, n) => `Copertura: ${c} di ${n} territori`,
      coverageShort: (c, n) => `${c} di ${n}`,
      noiseNote: 'Valori protetti per la riservatezza: ai conteggi è aggiunto un piccolo rumore casuale e ogni valore è mostrato con il suo intervallo di confidenza al 95%. Le celle con meno di 10 nuclei sono indicate come «<10», quelle non pubblicate come «soppresso»: non sono mai zero.',
      noiseShort: 'Valori con rumore di protezione; intervalli al 95%.',
      regionValue: 'Valore regionale', ci: 'IC 95%', ciRange: (a, b) => `IC 95%: ${a} – ${b}`,
      rangeLabel: 'Min – max', coverageLabel: 'Copertura', publishedLabel: 'Territori pubblicati',
      details: 'Confronto tra territori', noValue: 'non disponibile',
      suppressed: 'soppresso', below: '<10', notShown: 'non mostrato',
      showTable: 'Mostra la tabella dei dati', tableOf: (x) => `Dati del grafico: ${x}`,
      dataTable: 'Tabella dei dati',
      territoriesTitle: 'Territori della regione', population: 'Popolazione', foreign: 'Residenti stranieri',
      foreignShare: 'Quota stranieri', group: 'Gruppo di confronto', lastEpoch: 'Ultimo periodo', profile: 'Profilo',
      otherIndicators: 'Altri indicatori (conteggi e distribuzioni)',
      barsTitle: 'Territori a confronto', barsLead: 'Tasso di ogni territorio con il suo intervallo di confidenza al 95%. La linea rossa è il valore regionale.',
      barsLeadCount: 'Valore per 1.000 residenti di ogni territorio con il suo intervallo al 95%.',
      legendRate: 'Tasso', legendCI: 'Intervallo al 95%', legendRegion: 'Regione', legendSuppressed: 'Soppresso o <10 (nessun valore)',
      legendPooled: 'Tasso aggregato', legendMean: 'Media dei membri',
      groupsTitle: 'Gruppi di confronto', groupsLead: 'Territori simili per popolazione e quota di residenti stranieri. Barra: media semplice dei territori del gruppo (ogni territorio conta uguale); rombo: tasso aggregato del gruppo.',
      trendTitle: 'Andamento (quattro trimestri mobili)', trendLead: 'Ogni punto è il tasso degli ultimi quattro trimestri. Area azzurra: intervallo al 95% del valore regionale.',
      trendAdd: 'Confronta con', trendNone: '— solo regione —',
      scatterTitle: 'Scalabilità dei modelli: esiti rispetto a carico e costo', scatterLead: 'Ogni punto è un territorio: il tasso dell\'indicatore rispetto al carico di casi o al costo per percorso.',
      axis: 'Asse orizzontale', axisCaseload: 'Carico di casi (nuclei con percorso attivo)', axisCost: 'Costo per percorso (€)',
      omitted: 'Non rappresentati', omittedNone: 'Tutti i territori sono rappresentati.',
      profileTitle: 'Profilo rispetto ai territori simili', profileLead: (n) => `Per ogni indicatore: ${n} (punto blu con intervallo), la media dei 5 territori più simili, la media del gruppo di confronto e il valore regionale.`,
      profileCoverage: 'Copertura: quanti dei 5 territori simili contribuiscono è indicato in ogni riga della tabella («4 di 5»).',
      peers: 'Territori simili', peersMean: 'Media territori simili', groupMean: 'Media del gruppo', regionLabel: 'Regione',
      rate: 'Tasso', numDen: 'Numeratore / denominatore', per1000: 'Per 1.000 residenti', per1000f: 'Per 1.000 residenti stranieri',
      count: 'Conteggio', members: 'Membri', pooled: 'Aggregato', mean: 'Media', contributing: 'Contribuiscono',
      windowCol: 'Finestra', series: 'Serie', value: 'Valore', x: 'X', y: 'Tasso', reason: 'Motivo',
      bins: 'Distribuzione', loginTitle: 'Accesso richiesto', loginLead: 'Inserite il token di consultazione ricevuto dall\'amministratore di questo hub (regionale o del territorio). Resta in questa scheda del browser e non viene salvato altrove.',
      token: 'Token di consultazione', signIn: 'Accedi', signOut: 'Esci', badToken: 'Il token non è stato accettato.',
      errorTitle: 'Impossibile caricare i dati', retry: 'Riprova',
      notFound: 'Pagina non trovata', back: 'Torna alla panoramica',
      sources: 'Fonti dei dati territoriali', api: 'Descrizione dell\'API (OpenAPI)',
      footerNote: 'Snodo pubblica solo statistiche aggregate e protette: nessun dato personale lascia i territori.',
      reasons: {
        missing: 'dato non inviato', suppressed: 'non pubblicato per riservatezza', below_display_threshold: 'meno di 10 nuclei',
        denominator_below_minimum: 'denominatore troppo piccolo', noise_unknown: 'rumore non dichiarato', invalid_noise: 'rumore non valido',
        no_contributor: 'nessun territorio contribuisce', no_foreign_residents: 'nessun residente straniero', no_population: 'popolazione non indicata', no_pathways: 'nessun percorso con costo',
      },
      kinds: { ratio: 'rapporto', binned: 'distribuzione', count: 'conteggio', sum: 'somma' },
      ofPeers: (c, n) => `${c} di ${n}`,
      // Breakdowns (indicator page).
      breakdown: 'Suddivisione', total: 'Totale',
      bdNote: 'Ogni cella di una suddivisione porta molto più rumore di protezione di un totale: i valori dei singoli territori hanno intervalli larghi o non sono mostrati. Sono significativi il valore regionale e quelli dei gruppi, che sommano più territori.',
      bdNoteTerritory: 'Ogni cella di una suddivisione porta molto più rumore di protezione di un totale: il valore del territorio ha un intervallo largo o non è mostrato. Le suddivisioni sono fatte per essere sommate tra i territori, a livello regionale.',
      bdAnnualOnly: 'Le suddivisioni sono pubblicate solo nei rilasci annuali: scegliete un anno per vederle.',
      totalOnly: 'Questo grafico mostra il totale: non è disponibile per suddivisione.',
      bdValues: {
        unknown: 'non noto', 'single-person': 'persona sola', 'couple-no-children': 'coppia senza figli', 'couple-with-children': 'coppia con figli',
        'single-parent': 'genitore solo', 'multi-family': 'più nuclei', other: 'altro', italian: 'italiana', eu: 'UE', 'non-eu': 'extra UE', stateless: 'apolide',
      },
      // Territory scope: a territory hub's own view (snodo run).
      territoryLabel: 'Territorio:', brandTitleT: 'Statistiche pubblicate', brandSubT: 'Snodo · ciò che il territorio ha pubblicato alla regione',
      scopeNote: (t) => `Questa pagina mostra ciò che il territorio di ${t} ha pubblicato alla regione: statistiche aggregate, protette da rumore casuale, le stesse che vede la regione. Non sono i dati grezzi del territorio.`,
      scopeNoteTitle: 'Vista del territorio',
      overviewTitleT: 'Indicatori pubblicati',
      overviewLeadT: (t) => `Il valore di ${t} per ogni indicatore, come lo ha ricevuto la regione, con il suo intervallo di confidenza al 95%. Il confronto con gli altri territori è nel cruscotto regionale.`,
      territoryValue: 'Valore del territorio', status: 'Stato', published: 'pubblicato', detailsT: 'Dettaglio dell\'indicatore',
      profileOpen: (t) => `Profilo di ${t}`, profileOpenLead: 'Tutti gli indicatori del territorio in una pagina, con la tabella dei dati.', profileOpenBtn: 'Apri il profilo',
      barsTitleT: 'Valore del territorio', barsLeadT: 'Il tasso del territorio con il suo intervallo di confidenza al 95%.',
      trendLeadT: 'Ogni punto è il tasso degli ultimi quattro trimestri. Area azzurra: intervallo al 95%.',
      profileTitleT: 'Profilo del territorio', profileLeadT: (n) => `Per ogni indicatore, il valore di ${n} (punto blu) con il suo intervallo di confidenza al 95%.`,
    },
    en: {
      skip: 'Skip to content', region: 'Region:', brandTitle: 'Regional comparisons',
      brandSub: 'Snodo · how the social-services territories compare',
      navOverview: 'Overview', navIndicators: 'Indicators', navTerritories: 'Territories', navLabel: 'Main',
      loading: 'Loading…', home: 'Overview',
      overviewTitle: 'Indicators at a glance',
      overviewLead: (r) => `How the territories of the ${r} region compare. For each indicator: the regional value, how many territories contribute, and the range from the lowest to the highest territory. Open an indicator to compare territories.`,
      epoch: 'Period', indicator: 'Indicator', territory: 'Territory', exportLabel: 'Export',
      csv: 'CSV', json: 'JSON',
      year: (y) => `Year ${y}`, quarter: (y, q) => `Q${q} ${y}`, window: (a, b) => `${a} – ${b}`,
      coverage: (c, n) => `Coverage: ${c} of ${n} territories`,
      coverageShort: (c, n) => `${c} of ${n}`,
      noiseNote: 'Values are disclosure-protected: a small random noise is added to the counts and every value is shown with its 95% confidence interval. Cells with fewer than 10 households are shown as "<10", unpublished cells as "suppressed": they are never zero.',
      noiseShort: 'Noise-protected values; 95% intervals.',
      regionValue: 'Regional value', ci: '95% CI', ciRange: (a, b) => `95% CI: ${a} – ${b}`,
      rangeLabel: 'Min – max', coverageLabel: 'Coverage', publishedLabel: 'Territories published',
      details: 'Compare territories', noValue: 'not available',
      suppressed: 'suppressed', below: '<10', notShown: 'not shown',
      showTable: 'Show the data table', tableOf: (x) => `Chart data: ${x}`,
      dataTable: 'Data table',
      territoriesTitle: 'Territories of the region', population: 'Population', foreign: 'Foreign residents',
      foreignShare: 'Foreign share', group: 'Benchmark group', lastEpoch: 'Last period', profile: 'Profile',
      otherIndicators: 'Other indicators (counts and distributions)',
      barsTitle: 'Territories side by side', barsLead: 'Each territory\'s rate with its 95% confidence interval. The red line is the regional value.',
      barsLeadCount: 'Each territory\'s value per 1,000 residents with its 95% interval.',
      legendRate: 'Rate', legendCI: '95% interval', legendRegion: 'Region', legendSuppressed: 'Suppressed or <10 (no value)',
      legendPooled: 'Pooled rate', legendMean: 'Mean of members',
      groupsTitle: 'Benchmark groups', groupsLead: 'Territories alike in population and foreign-resident share. Bar: plain mean of the group\'s territories (each counts the same); diamond: the group\'s pooled rate.',
      trendTitle: 'Trend (rolling four quarters)', trendLead: 'Each point is the rate over the last four quarters. Blue band: the regional value\'s 95% interval.',
      trendAdd: 'Compare with', trendNone: '— region only —',
      scatterTitle: 'Which models scale: outcomes against caseload and cost', scatterLead: 'Each point is a territory: the indicator\'s rate against its caseload or its cost per pathway.',
      axis: 'Horizontal axis', axisCaseload: 'Caseload (households with an active pathway)', axisCost: 'Cost per pathway (€)',
      omitted: 'Not plotted', omittedNone: 'Every territory is plotted.',
      profileTitle: 'Profile against similar territories', profileLead: (n) => `For each indicator: ${n} (blue dot with interval), the mean of its 5 most similar territories, its benchmark group's mean and the regional value.`,
      profileCoverage: 'Coverage: how many of the 5 similar territories contribute is given on each row of the table ("4 of 5").',
      peers: 'Similar territories', peersMean: 'Similar territories\' mean', groupMean: 'Group mean', regionLabel: 'Region',
      rate: 'Rate', numDen: 'Numerator / denominator', per1000: 'Per 1,000 residents', per1000f: 'Per 1,000 foreign residents',
      count: 'Count', members: 'Members', pooled: 'Pooled', mean: 'Mean', contributing: 'Contributing',
      windowCol: 'Window', series: 'Series', value: 'Value', x: 'X', y: 'Rate', reason: 'Reason',
      bins: 'Distribution', loginTitle: 'Sign-in required', loginLead: 'Enter the viewer token you received from the administrator of this hub (regional or territorial). It stays in this browser tab and is stored nowhere else.',
      token: 'Viewer token', signIn: 'Sign in', signOut: 'Sign out', badToken: 'The token was not accepted.',
      errorTitle: 'The data could not be loaded', retry: 'Try again',
      notFound: 'Page not found', back: 'Back to the overview',
      sources: 'Sources of the territorial data', api: 'API description (OpenAPI)',
      footerNote: 'Snodo publishes only aggregated, protected statistics: no personal data leaves the territories.',
      reasons: {
        missing: 'not sent', suppressed: 'not published, for confidentiality', below_display_threshold: 'fewer than 10 households',
        denominator_below_minimum: 'denominator too small', noise_unknown: 'noise not declared', invalid_noise: 'invalid noise',
        no_contributor: 'no territory contributes', no_foreign_residents: 'no foreign residents', no_population: 'population not given', no_pathways: 'no costed pathway',
      },
      kinds: { ratio: 'ratio', binned: 'distribution', count: 'count', sum: 'sum' },
      ofPeers: (c, n) => `${c} of ${n}`,
      breakdown: 'Breakdown', total: 'Total',
      bdNote: 'Each breakdown cell carries far more protective noise than a total: single territories\' values have wide intervals or are not shown. The regional and group values, which add up several territories, are the meaningful ones.',
      bdNoteTerritory: 'Each breakdown cell carries far more protective noise than a total: the territory\'s value has a wide interval or is not shown. Breakdowns are meant to be added up over territories, at regional level.',
      bdAnnualOnly: 'Breakdowns are released only in the annual releases: choose a year to see them.',
      totalOnly: 'This chart shows the total: it is not available by breakdown.',
      bdValues: {
        unknown: 'unknown', 'single-person': 'single person', 'couple-no-children': 'couple without children', 'couple-with-children': 'couple with children',
        'single-parent': 'single parent', 'multi-family': 'multi-family', other: 'other', italian: 'Italian', eu: 'EU', 'non-eu': 'non-EU', stateless: 'stateless',
      },
      territoryLabel: 'Territory:', brandTitleT: 'Published statistics', brandSubT: 'Snodo · what the territory has published to the region',
      scopeNote: (t) => `This page shows what the territory of ${t} has published to its region: aggregated statistics protected by random noise, the same figures the region sees. It is not the territory's raw data.`,
      scopeNoteTitle: 'Territory view',
      overviewTitleT: 'Published indicators',
      overviewLeadT: (t) => `${t}'s value for each indicator as the region received it, with its 95% confidence interval. The comparison with other territories is in the regional dashboard.`,
      territoryValue: 'Territory value', status: 'Status', published: 'published', detailsT: 'Indicator details',
      profileOpen: (t) => `${t} profile`, profileOpenLead: 'Every indicator of the territory on one page, with the data table.', profileOpenBtn: 'Open the profile',
      barsTitleT: 'Territory value', barsLeadT: 'The territory\'s rate with its 95% confidence interval.',
      trendLeadT: 'Each point is the rate over the last four quarters. Blue band: the 95% interval.',
      profileTitleT: 'Territory profile', profileLeadT: (n) => `For each indicator, ${n}'s value (blue dot) with its 95% confidence interval.`,
    },
  };

  let lang = 'it';
  try { lang = localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'it'; } catch (e) { /* storage off: Italian */ }
  const T = () => DICT[lang];
  const tx = (o) => (o && (o[lang] || o.it || o.en)) || '';
  const locale = () => (lang === 'it' ? 'it-IT' : 'en-GB');

  // ---- Formatting --------------------------------------------------------
  const pct = (v) => new Intl.NumberFormat(locale(), { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v);
  const num = (v, d = 0) => new Intl.NumberFormat(locale(), { minimumFractionDigits: d, maximumFractionDigits: d }).format(v);
  const eur = (v) => new Intl.NumberFormat(locale(), { style: 'currency', currency: 'EUR', maximumFractionDigits: 0 }).format(v);
  const period = (e) => {
    const m = /^(\d{4})-Q([1-4])$/.exec(e || '');
    if (m) return T().quarter(m[1], m[2]);
    return /^\d{4}$/.test(e || '') ? T().year(e) : (e || '');
  };
  const reasonText = (r) => T().reasons[r] || r || '';
  // What a withheld estimate shows in place of a number.
  const withheldLabel = (est, display) => {
    if (display === 'suppressed' || (est && est.reason === 'suppressed')) return T().suppressed;
    if ((display || '').startsWith('<') || (est && est.reason === 'below_display_threshold')) return T().below;
    return T().notShown;
  };
  const estText = (est, fmt = pct) => (est && est.published ? fmt(est.value) : '—');
  const ciText = (est, fmt = pct) => (est && est.published ? `${fmt(est.low)} – ${fmt(est.high)}` : '');

  // ---- DOM helpers -------------------------------------------------------
  // el builds an element; text goes in as text nodes, never as HTML.
  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    setAttrs(n, attrs);
    append(n, kids);
    return n;
  }
  function sv(tag, attrs, ...kids) {
    const n = document.createElementNS(SVGNS, tag);
    setAttrs(n, attrs);
    append(n, kids);
    return n;
  }
  function setAttrs(n, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'on') { for (const [ev, f] of Object.entries(v)) n.addEventListener(ev, f); continue; }
      n.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(n, kids) {
    for (const k of kids.flat(Infinity)) {
      if (k === undefined || k === null || k === false) continue;
      n.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
    }
  }
  const r4 = (v) => (typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : undefined);

  // ---- API ---------------------------------------------------------------
  const cache = new Map();
  class AuthError extends Error {}
  function apiURL(path, params, format) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') q.set(k, v);
    if (format) q.set('format', format);
    const s = q.toString();
    return `${API}/${path}${s ? '?' + s : ''}`;
  }
  function token() { try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function authHeaders(extra) {
    const h = Object.assign({}, extra);
    const tk = token();
    if (tk) h.Authorization = `Bearer ${tk}`;
    return h;
  }
  async function getJSON(path, params) {
    const url = apiURL(path, params);
    if (cache.has(url)) return cache.get(url);
    const res = await fetch(url, { headers: authHeaders({ Accept: 'application/json' }), credentials: 'same-origin' });
    if (res.status === 401) throw new AuthError('401');
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try { const p = await res.json(); detail = p.detail || p.title || detail; } catch (e) { /* not problem+json */ }
      throw new Error(detail);
    }
    const body = await res.json();
    cache.set(url, body);
    return body;
  }

  // Export links point at the API itself; with a token they download
  // through fetch, because a plain link cannot carry the header.
  function exportLinks(path, params, name) {
    const link = (format, label) => el('a', {
      class: 'btn btn-small', href: apiURL(path, params, format === 'csv' ? 'csv' : ''),
      'data-testid': `export-${format}`, download: `${name}.${format}`,
      on: { click: (ev) => { if (token()) { ev.preventDefault(); download(apiURL(path, params, format === 'csv' ? 'csv' : ''), `${name}.${format}`); } } },
    }, label);
    return el('div', { class: 'exports' }, el('span', { class: 'label' }, T().exportLabel), link('csv', T().csv), link('json', T().json));
  }
  async function download(url, filename) {
    const res = await fetch(url, { headers: authHeaders() });
    if (res.status === 401) { showLogin(true); return; }
    const blob = await res.blob();
    const a = el('a', { href: URL.createObjectURL(blob), download: filename });
    document.body.appendChild(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  // ---- State and routing -------------------------------------------------
  // The server says the scope in <body data-scope> (the login form comes
  // before the meta); the meta confirms it.
  const state = { meta: null, epoch: '', trendWith: '', axis: 'caseload', breakdown: '', scope: document.body.dataset.scope === 'territory' ? 'territory' : 'region', seq: 0 };
  // A territory hub (snodo run) serves the same API over its own releases:
  // meta.scope "territory", one territory; a missing scope is a region.
  const territoryScope = () => state.scope === 'territory';
  const ownTerritory = () => ((state.meta && state.meta.territories) || [])[0] || { code: '', name: '' };
  const app = () => document.getElementById('app');

  function parseHash() {
    const h = (location.hash || '#/').replace(/^#/, '');
    const [p, q] = h.split('?');
    const parts = p.split('/').filter(Boolean).map(decodeURIComponent);
    const params = new URLSearchParams(q || '');
    return { parts, params };
  }
  function href(parts, params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v) q.set(k, v);
    const s = q.toString();
    return '#/' + parts.map(encodeURIComponent).join('/') + (s ? '?' + s : '');
  }
  const epochParams = () => ({ epoch: state.epoch });

  async function render() {
    const seq = ++state.seq;
    const { parts, params } = parseHash();
    // ?lang= in the hash makes a link (or a screenshot) open in a language.
    const pl = params.get('lang');
    if (pl === 'it' || pl === 'en') lang = pl;
    if (params.has('with')) state.trendWith = params.get('with');
    // The breakdown lives in the hash only, so a link or a reload keeps it
    // and leaving the indicator page drops it.
    state.breakdown = params.get('breakdown') || '';
    applyChrome();
    try {
      if (!state.meta) state.meta = await getJSON('meta');
      const m = state.meta;
      state.scope = m.scope === 'territory' ? 'territory' : 'region';
      document.body.setAttribute('data-scope', state.scope);
      applyChrome();
      state.epoch = params.get('epoch') || state.epoch || m.latest_annual || (m.epochs || [])[0] || '';
      document.getElementById('region-label').textContent = territoryScope()
        ? `${T().territoryLabel} ${ownTerritory().name}` : `${T().region} ${m.region ? m.region.name : ''}`;
      renderScopeNote();
      renderNav(parts[0] || '');
      renderFooter();
      let view;
      if (parts.length === 0) view = await overviewView();
      else if (parts[0] === 'indicator' && parts[1]) view = await indicatorView(parts[1]);
      else if (parts[0] === 'territory' && parts[1]) view = await territoryView(parts[1]);
      else view = notFoundView();
      if (seq !== state.seq) return; // a newer navigation won
      app().replaceChildren(view);
    } catch (err) {
      if (seq !== state.seq) return;
      if (err instanceof AuthError) { showLogin(Boolean(token())); return; }
      app().replaceChildren(el('div', { class: 'notice error', role: 'alert', 'data-testid': 'error' },
        el('strong', {}, T().errorTitle), el('p', {}, err.message),
        el('p', {}, el('button', { type: 'button', class: 'btn', on: { click: () => { cache.clear(); render(); } } }, T().retry), ' ',
          state.meta ? el('a', { class: 'btn', href: href([], { epoch: state.meta.latest_annual || '' }) }, T().back) : null)));
    }
  }

  function applyChrome() {
    document.documentElement.lang = lang;
    document.getElementById('skip-link').textContent = T().skip;
    document.getElementById('brand-title').textContent = territoryScope() ? T().brandTitleT : T().brandTitle;
    document.getElementById('brand-sub').textContent = territoryScope() ? T().brandSubT : T().brandSub;
    document.getElementById('main-nav').setAttribute('aria-label', T().navLabel);
    for (const b of document.querySelectorAll('.lang-switch button')) b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
    document.title = `Snodo — ${territoryScope() ? T().brandTitleT : T().brandTitle}`;
  }

  // In territory scope a note under the header says what the figures are:
  // what the territory published to the region, not its raw data.
  function renderScopeNote() {
    const box = document.getElementById('scope-note');
    if (!box) return;
    box.hidden = !territoryScope();
    if (!territoryScope()) { box.replaceChildren(); return; }
    box.replaceChildren(el('div', { class: 'container scope-inner' },
      el('strong', {}, T().scopeNoteTitle), ' ', el('span', {}, T().scopeNote(ownTerritory().name))));
  }

  function renderNav(section) {
    const m = state.meta;
    const firstRatio = (m.indicators || []).find((i) => i.kind === 'ratio');
    const firstTerr = (m.territories || [])[0];
    const items = [
      ['', T().navOverview, href([], epochParams())],
      ['indicator', T().navIndicators, firstRatio ? href(['indicator', firstRatio.id], epochParams()) : '#/'],
      // One territory has nothing to pick from: its profile is the
      // overview's detail link.
      territoryScope() ? null : ['territory', T().navTerritories, firstTerr ? href(['territory', firstTerr.code], epochParams()) : '#/'],
    ].filter(Boolean);
    document.getElementById('nav-list').replaceChildren(...items.map(([k, label, h]) =>
      el('li', {}, el('a', { href: h, 'aria-current': k === section ? 'page' : false }, label))));
  }

  function renderFooter() {
    const m = state.meta;
    const srcs = (m.sources || []).map((s) => el('p', {}, s.url ? el('a', { href: s.url, rel: 'noopener' }, s.source) : s.source,
      s.licence ? ` — ${s.licence}` : '', s.note ? ` (${s.note})` : ''));
    document.getElementById('footer').replaceChildren(...[
      el('h2', {}, T().sources), ...srcs,
      // A territory hub documents its API in the README, not in OpenAPI.
      el('p', {}, T().footerNote, ...(territoryScope() ? [] : [' ', el('a', { href: '/api/openapi.json' }, T().api)])),
      token() ? el('p', {}, el('button', { type: 'button', class: 'btn btn-small', on: { click: () => { try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* */ } cache.clear(); state.meta = null; render(); } } }, T().signOut)) : null].filter(Boolean));
  }

  function showLogin(rejected) {
    const input = el('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: true, 'aria-describedby': 'login-lead' });
    const form = el('form', {
      'data-testid': 'login', on: {
        submit: (ev) => {
          ev.preventDefault();
          try { sessionStorage.setItem(TOKEN_KEY, input.value.trim()); } catch (e) { /* private mode */ }
          cache.clear(); state.meta = null; render();
        },
      },
    },
    el('label', { for: 'token' }, T().token), input,
    rejected ? el('p', { class: 'notice error', role: 'alert' }, T().badToken) : null,
    el('button', { type: 'submit', class: 'btn btn-primary' }, T().signIn));
    app().replaceChildren(el('section', { class: 'login' }, el('h1', {}, T().loginTitle), el('p', { id: 'login-lead', class: 'muted' }, T().loginLead), form));
    input.focus();
  }

  // ---- Shared view parts -------------------------------------------------
  function breadcrumb(...items) {
    return el('nav', { class: 'breadcrumb', 'aria-label': 'breadcrumb' },
      items.map(([label, h]) => el('span', {}, h ? el('a', { href: h }, label) : el('span', { 'aria-current': 'page' }, label))));
  }
  function epochSelect(route, extra) {
    const id = 'sel-epoch';
    const sel = el('select', { id, 'data-testid': 'epoch-select', on: { change: (ev) => { state.epoch = ev.target.value; location.hash = href(route, Object.assign(epochParams(), extra)); } } },
      (state.meta.epochs || []).map((e) => el('option', { value: e, selected: e === state.epoch }, period(e))));
    return el('div', { class: 'field' }, el('label', { for: id }, T().epoch), sel);
  }
  function selectField(id, label, options, value, onChange, testid) {
    return el('div', { class: 'field' }, el('label', { for: id }, label),
      el('select', { id, 'data-testid': testid, on: { change: (ev) => onChange(ev.target.value) } },
        options.map(([v, l]) => el('option', { value: v, selected: v === value }, l))));
  }
  function noiseNotice() { return el('p', { class: 'notice', 'data-testid': 'noise-note' }, el('strong', {}, `${T().ci} · `), T().noiseNote); }
  function coverageLine(cov, extra) {
    const parts = [cov && el('span', { 'data-testid': 'coverage', 'data-contributing': cov ? cov.contributing : 0, 'data-enrolled': cov ? cov.enrolled : 0 },
      el('strong', {}, T().coverage(cov.contributing, cov.enrolled)))];
    parts.push(el('span', {}, `${T().epoch}: ${period(state.epoch)}`));
    if (extra) parts.push(el('span', {}, extra));
    parts.push(el('span', {}, T().noiseShort));
    return el('div', { class: 'meta-line' }, parts);
  }
  function table(caption, head, rows, testid) {
    return el('div', { class: 'table-wrap' }, el('table', { 'data-testid': testid },
      el('caption', {}, caption),
      el('thead', {}, el('tr', {}, head.map((h) => el('th', { scope: 'col', class: h.num ? 'num' : null }, h.label || h)))),
      el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c, i) => {
        const cell = c && typeof c === 'object' && !(c instanceof Node) ? c : { v: c };
        return el(i === 0 ? 'th' : 'td', { scope: i === 0 ? 'row' : null, class: head[i] && head[i].num ? 'num' : null }, cell.v);
      }))))));
  }
  function tableToggle(caption, head, rows, testid) {
    return el('details', { class: 'table-toggle' }, el('summary', {}, T().showTable), table(caption, head, rows, testid));
  }
  function panel(title, lead, tools, ...body) {
    return el('section', { class: 'panel' },
      el('div', { class: 'panel-head' }, el('div', {}, el('h2', {}, title), lead ? el('p', {}, lead) : null), tools), ...body);
  }
  function valueCell(est, display, fmt = pct) {
    if (est && est.published) return est.value === undefined ? '—' : fmt(est.value);
    const l = withheldLabel(est, display);
    return el('span', { class: `tag ${l === T().suppressed ? 'sup' : 'low'}`, title: reasonText(est && est.reason) }, l);
  }
  const terrName = (code) => ((state.meta.territories || []).find((t) => t.code === code) || { name: code }).name;
  const groupOf = (id) => (state.meta.groups || []).find((g) => g.id === id);
  const groupTitle = (id) => { const g = groupOf(id); return g ? tx(g.title) : id; };
  const indicatorMeta = (id) => (state.meta.indicators || []).find((i) => i.id === id);

  // ---- Scales and charts -------------------------------------------------
  function niceMax(v, isRate) {
    // Rates: tenths up to 50%, then fifths, so the ticks fall on round
    // percentages (10% or 20% apart).
    if (isRate && v <= 0.5) return Math.max(0.1, Math.ceil(v * 10 - 1e-9) / 10);
    if (isRate) return Math.min(1, Math.ceil(v * 5 - 1e-9) / 5);
    if (v <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }
  // ticks splits [0, max] into the count of steps (3 to 6) whose step is
  // a round number (1, 2, 2.5 or 5 times a power of ten), else into n.
  function ticks(max, n = 5) {
    for (const k of [5, 4, 6, 3]) {
      const step = max / k;
      const m = step / Math.pow(10, Math.floor(Math.log10(step)));
      if ([1, 2, 2.5, 5, 10].some((x) => Math.abs(m - x) < 1e-6)) { n = k; break; }
    }
    const out = [];
    for (let i = 0; i <= n; i++) out.push((max * i) / n);
    return out;
  }
  function hatchDefs(id) {
    return sv('defs', {}, sv('pattern', { id, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      sv('rect', { width: 6, height: 6, fill: '#fff' }), sv('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: C.hatch, 'stroke-width': 2 })));
  }
  let uid = 0;

  // barChart draws one horizontal bar per row with its interval, or a
  // hatched box with the label for a withheld value (never a zero bar).
  // rows: {key, label, href, est, display, marker (est), attrs}
  function barChart({ rows, testid, aria, fmt = pct, isRate = true, region, markerLabel }) {
    const W = 820; const L = 170; const R = 110; const rowH = 32; const top = 28; const plotW = W - L - R;
    const H = top + rows.length * rowH + 24;
    let maxV = 0;
    for (const r of rows) {
      if (r.est && r.est.published) maxV = Math.max(maxV, r.est.high, r.est.value);
      if (r.marker && r.marker.published) maxV = Math.max(maxV, r.marker.high);
    }
    if (region && region.published) maxV = Math.max(maxV, region.high);
    const max = niceMax(maxV, isRate);
    const x = (v) => L + (Math.max(0, Math.min(v, max)) / max) * plotW;
    const hid = `hatch-${++uid}`;
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': aria, 'data-testid': testid, 'data-max': r4(max) }, sv('title', {}, aria), hatchDefs(hid));
    const axis = sv('g', { class: 'axis', 'aria-hidden': 'true' });
    for (const tv of ticks(max)) {
      axis.appendChild(sv('line', { x1: x(tv), x2: x(tv), y1: top - 6, y2: H - 22, stroke: C.grid }));
      axis.appendChild(sv('text', { x: x(tv), y: top - 10, 'text-anchor': 'middle' }, fmt(tv)));
    }
    svg.appendChild(axis);
    rows.forEach((r, i) => {
      const y = top + i * rowH;
      const cy = y + rowH / 2;
      const pub = r.est && r.est.published;
      const g = sv('g', Object.assign({
        'data-testid': 'bar', 'data-key': r.key, 'data-suppressed': String(!pub), 'data-display': r.display || '',
        'data-value': pub ? r4(r.est.value) : null, 'data-low': pub ? r4(r.est.low) : null, 'data-high': pub ? r4(r.est.high) : null,
        'data-reason': pub ? null : (r.est && r.est.reason) || '',
      }, r.attrs || {}));
      g.appendChild(sv('text', { x: L - 10, y: cy + 4, 'text-anchor': 'end', class: 'label-text' }, r.label));
      if (pub) {
        g.appendChild(sv('rect', { x: L, y: cy - 8, width: Math.max(1, x(r.est.value) - L), height: 16, fill: r.color || C.primary, rx: 1 }));
        const lo = x(r.est.low); const hi = x(r.est.high);
        g.appendChild(sv('line', { x1: lo, x2: hi, y1: cy, y2: cy, stroke: C.text, 'stroke-width': 1.5 }));
        g.appendChild(sv('line', { x1: lo, x2: lo, y1: cy - 6, y2: cy + 6, stroke: C.text, 'stroke-width': 1.5 }));
        g.appendChild(sv('line', { x1: hi, x2: hi, y1: cy - 6, y2: cy + 6, stroke: C.text, 'stroke-width': 1.5 }));
        g.appendChild(sv('text', { x: W - R + 10, y: cy + 4, class: 'value-text' }, fmt(r.est.value)));
      } else {
        const label = withheldLabel(r.est, r.display);
        g.appendChild(sv('rect', { x: L, y: cy - 8, width: 56, height: 16, fill: `url(#${hid})`, stroke: C.hatch }));
        // The reason goes beside the box, or past a marker drawn on the row
        // (a group's pooled rate), never under it; the title keeps it anyway.
        const why = `${label} — ${reasonText(r.est && r.est.reason)}`;
        const mk = r.marker && r.marker.published ? x(r.marker.value) : -Infinity;
        const wx = mk + 12 > L + 64 && mk - 10 < L + 64 + why.length * 7 ? mk + 12 : L + 64;
        if (wx + why.length * 7 < W - R) g.appendChild(sv('text', { x: wx, y: cy + 4, class: 'sup-text' }, why));
        g.appendChild(sv('text', { x: W - R + 10, y: cy + 4, class: 'sup-text' }, label));
      }
      if (r.marker && r.marker.published) {
        const mx = x(r.marker.value);
        g.setAttribute('data-marker', r4(r.marker.value));
        g.appendChild(sv('path', { d: `M${mx} ${cy - 7} L${mx + 7} ${cy} L${mx} ${cy + 7} L${mx - 7} ${cy} Z`, fill: '#fff', stroke: C.dark, 'stroke-width': 2 }, sv('title', {}, `${markerLabel}: ${fmt(r.marker.value)}`)));
      }
      g.appendChild(sv('title', {}, `${r.label}: ${pub ? `${fmt(r.est.value)} (${T().ci} ${fmt(r.est.low)} – ${fmt(r.est.high)})` : withheldLabel(r.est, r.display)}`));
      svg.appendChild(r.href ? sv('a', { href: r.href }, g) : g);
    });
    if (region && region.published) {
      const rx = x(region.value);
      // The line breaks at the rows with no value, so it never strikes
      // through their "suppressed" or "<10" label.
      let d = ''; let y0 = top - 4;
      rows.forEach((r, i) => {
        if (r.est && r.est.published) return;
        const ys = top + i * rowH + 4;
        if (ys > y0) d += `M${rx} ${y0} V${ys} `;
        y0 = top + (i + 1) * rowH - 4;
      });
      if (H - 20 > y0) d += `M${rx} ${y0} V${H - 20}`;
      svg.appendChild(sv('g', { 'data-testid': 'region-line', 'data-value': r4(region.value) },
        sv('path', { d, stroke: C.accent, 'stroke-width': 2, 'stroke-dasharray': '6 4', fill: 'none' }),
        sv('text', { x: rx, y: H - 6, 'text-anchor': 'middle', class: 'value-text', fill: C.accent }, `${T().regionLabel} ${fmt(region.value)}`)));
    }
    return el('div', { class: 'chart' }, svg);
  }

  function legend(items) {
    return el('div', { class: 'legend', 'aria-hidden': 'true' }, items.map(([cls, label]) => el('span', {}, el('i', { class: `swatch ${cls}` }), label)));
  }

  // lineChart draws rolling-window series; gaps break the line.
  // series: [{key, label, color, points:[{epoch, from, rate}], band: bool}]
  function lineChart({ series, testid, aria }) {
    const W = 820; const H = 300; const L = 70; const R = 70; const top = 20; const bottom = 44;
    const epochs = [...new Set(series.flatMap((s) => s.points.map((p) => p.epoch)))].sort();
    let maxV = 0;
    for (const s of series) for (const p of s.points) if (p.rate.published) maxV = Math.max(maxV, p.rate.high);
    const max = niceMax(maxV, true);
    const x = (e) => L + (epochs.length <= 1 ? (W - L - R) / 2 : (epochs.indexOf(e) / (epochs.length - 1)) * (W - L - R));
    const y = (v) => top + (1 - v / max) * (H - top - bottom);
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': aria, 'data-testid': testid }, sv('title', {}, aria));
    const axis = sv('g', { class: 'axis', 'aria-hidden': 'true' });
    for (const tv of ticks(max, 4)) {
      axis.appendChild(sv('line', { x1: L, x2: W - R, y1: y(tv), y2: y(tv), stroke: C.grid }));
      axis.appendChild(sv('text', { x: L - 8, y: y(tv) + 4, 'text-anchor': 'end' }, pct(tv)));
    }
    for (const e of epochs) axis.appendChild(sv('text', { x: x(e), y: H - bottom + 20, 'text-anchor': 'middle' }, period(e)));
    svg.appendChild(axis);
    for (const s of series) {
      const g = sv('g', { 'data-testid': 'trend-series', 'data-series': s.key });
      // Runs of consecutive published points, so a gap is drawn as a gap.
      const runs = []; let run = [];
      for (const e of epochs) {
        const p = s.points.find((q) => q.epoch === e);
        if (p && p.rate.published) run.push(p); else if (run.length) { runs.push(run); run = []; }
      }
      if (run.length) runs.push(run);
      for (const rn of runs) {
        if (s.band && rn.length > 1) {
          const d = rn.map((p, i) => `${i ? 'L' : 'M'}${x(p.epoch)} ${y(p.rate.high)}`).join(' ') + ' ' +
            rn.slice().reverse().map((p) => `L${x(p.epoch)} ${y(p.rate.low)}`).join(' ') + ' Z';
          g.appendChild(sv('path', { d, fill: C.band, stroke: 'none' }));
        }
        if (rn.length > 1) g.appendChild(sv('path', { d: rn.map((p, i) => `${i ? 'L' : 'M'}${x(p.epoch)} ${y(p.rate.value)}`).join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2.5 }));
      }
      for (const p of s.points) {
        const pub = p.rate.published;
        const cx = x(p.epoch);
        const pt = sv('g', {
          'data-testid': 'trend-point', 'data-series': s.key, 'data-epoch': p.epoch, 'data-from': p.from, 'data-suppressed': String(!pub),
          'data-value': pub ? r4(p.rate.value) : null, 'data-low': pub ? r4(p.rate.low) : null, 'data-high': pub ? r4(p.rate.high) : null,
        });
        if (pub) {
          if (!s.band) pt.appendChild(sv('line', { x1: cx, x2: cx, y1: y(p.rate.low), y2: y(p.rate.high), stroke: s.color, 'stroke-width': 1.5 }));
          pt.appendChild(sv('circle', { cx, cy: y(p.rate.value), r: 4.5, fill: '#fff', stroke: s.color, 'stroke-width': 2.5 }));
          pt.appendChild(sv('title', {}, `${s.label}, ${T().window(period(p.from), period(p.epoch))}: ${pct(p.rate.value)} (${T().ci} ${pct(p.rate.low)} – ${pct(p.rate.high)})`));
        } else {
          pt.appendChild(sv('text', { x: cx, y: H - bottom - 6, 'text-anchor': 'middle', class: 'sup-text' }, withheldLabel(p.rate)));
        }
        g.appendChild(pt);
      }
      svg.appendChild(g);
    }
    return el('div', { class: 'chart' }, svg);
  }

  // scatter draws territories as points (x: caseload or cost, y: rate)
  // with both intervals as thin whiskers.
  function scatter({ view, testid, aria, fmtX, region }) {
    const W = 820; const H = 380; const L = 70; const R = 30; const top = 20; const bottom = 50;
    const pts = view.points || [];
    let maxX = 0; let maxY = 0;
    for (const p of pts) { maxX = Math.max(maxX, p.x.high); maxY = Math.max(maxY, p.y.high); }
    const mx = niceMax(maxX, false); const my = niceMax(maxY, true);
    const x = (v) => L + (v / mx) * (W - L - R);
    const y = (v) => top + (1 - Math.min(v, my) / my) * (H - top - bottom);
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': aria, 'data-testid': testid, 'data-axis': view.x }, sv('title', {}, aria));
    const axis = sv('g', { class: 'axis', 'aria-hidden': 'true' });
    for (const tv of ticks(my, 4)) {
      axis.appendChild(sv('line', { x1: L, x2: W - R, y1: y(tv), y2: y(tv), stroke: C.grid }));
      axis.appendChild(sv('text', { x: L - 8, y: y(tv) + 4, 'text-anchor': 'end' }, pct(tv)));
    }
    for (const tv of ticks(mx, 5)) {
      axis.appendChild(sv('line', { x1: x(tv), x2: x(tv), y1: top, y2: H - bottom, stroke: C.grid }));
      axis.appendChild(sv('text', { x: x(tv), y: H - bottom + 18, 'text-anchor': 'middle' }, fmtX(tv)));
    }
    axis.appendChild(sv('text', { x: (L + W - R) / 2, y: H - 8, 'text-anchor': 'middle', class: 'label-text' }, view.x === 'caseload' ? T().axisCaseload : T().axisCost));
    svg.appendChild(axis);
    if (region && region.published) {
      svg.appendChild(sv('g', { 'data-testid': 'region-line', 'data-value': r4(region.value) },
        sv('line', { x1: L, x2: W - R, y1: y(region.value), y2: y(region.value), stroke: C.accent, 'stroke-width': 1.5, 'stroke-dasharray': '6 4' }),
        sv('text', { x: L + 6, y: y(region.value) - 6, class: 'value-text', fill: C.accent, stroke: '#fff', 'stroke-width': 3, 'paint-order': 'stroke' }, `${T().regionLabel} ${pct(region.value)}`)));
    }
    // Labels go beside their point where they overlap no other label or
    // point: the first free of four places, else the first.
    const boxes = pts.map((p) => ({ x0: x(p.x.value) - 8, x1: x(p.x.value) + 8, y0: y(p.y.value) - 8, y1: y(p.y.value) + 8 }));
    const labelAt = new Map();
    for (const p of pts.slice().sort((a, b) => a.y.value - b.y.value)) {
      const cx = x(p.x.value); const cy = y(p.y.value); const w = terrName(p.territory).length * 7.2 + 4;
      const places = [[cx + 10, cy - 6, 'start'], [cx + 10, cy + 16, 'start'], [cx - 10, cy - 6, 'end'], [cx - 10, cy + 16, 'end']];
      const box = ([lx, ly, a]) => ({ x0: a === 'start' ? lx : lx - w, x1: a === 'start' ? lx + w : lx, y0: ly - 12, y1: ly + 2 });
      const free = (b) => b.x1 < W - R + 20 && b.x0 > L - 10 && !boxes.some((o) => b.x0 < o.x1 && o.x0 < b.x1 && b.y0 < o.y1 && o.y0 < b.y1);
      const at = places.find((pl) => free(box(pl))) || places[0];
      boxes.push(box(at));
      labelAt.set(p.territory, at);
    }
    for (const p of pts) {
      const cx = x(p.x.value); const cy = y(p.y.value);
      const [lx, ly, anchor] = labelAt.get(p.territory);
      svg.appendChild(sv('a', { href: href(['territory', p.territory], epochParams()) }, sv('g', {
        'data-testid': 'scatter-point', 'data-territory': p.territory, 'data-x': r4(p.x.value), 'data-y': r4(p.y.value),
        'data-y-low': r4(p.y.low), 'data-y-high': r4(p.y.high),
      },
      sv('line', { x1: cx, x2: cx, y1: y(p.y.low), y2: y(p.y.high), stroke: C.hatch, 'stroke-width': 1.2 }),
      sv('line', { x1: x(p.x.low), x2: x(p.x.high), y1: cy, y2: cy, stroke: C.hatch, 'stroke-width': 1.2 }),
      sv('circle', { cx, cy, r: 7, fill: C.primary, 'fill-opacity': 0.85, stroke: '#fff', 'stroke-width': 1.5 }),
      sv('text', { x: lx, y: ly, 'text-anchor': anchor, class: 'label-text', stroke: '#fff', 'stroke-width': 3, 'paint-order': 'stroke' }, terrName(p.territory)),
      sv('title', {}, `${terrName(p.territory)}: ${pct(p.y.value)}, ${fmtX(p.x.value)}`))));
    }
    return el('div', { class: 'chart' }, svg);
  }

  // profileChart: one row per indicator, the territory against peers,
  // group and region on a common 0–100% axis.
  // With ownOnly (territory scope) peers, group and region are left out:
  // one territory has none to compare with.
  function profileChart({ rows, testid, aria, name, ownOnly }) {
    const W = 820; const L = 260; const R = 30; const rowH = 34; const top = 28;
    const H = top + rows.length * rowH + 10;
    const x = (v) => L + v * (W - L - R);
    const hid = `hatch-${++uid}`;
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': aria, 'data-testid': testid }, sv('title', {}, aria), hatchDefs(hid));
    const axis = sv('g', { class: 'axis', 'aria-hidden': 'true' });
    for (const tv of ticks(1, 5)) {
      axis.appendChild(sv('line', { x1: x(tv), x2: x(tv), y1: top - 6, y2: H - 6, stroke: C.grid }));
      axis.appendChild(sv('text', { x: x(tv), y: top - 10, 'text-anchor': 'middle' }, pct(tv)));
    }
    svg.appendChild(axis);
    rows.forEach((r, i) => {
      const cy = top + i * rowH + rowH / 2;
      const v = r.value; const pub = v && v.published;
      const peers = !ownOnly && r.peers && r.peers.mean; const grp = !ownOnly && r.group && r.group.mean; const reg = !ownOnly && r.region;
      const g = sv('g', {
        'data-testid': 'profile-row', 'data-indicator': r.indicator, 'data-suppressed': String(!pub), 'data-display': r.display || '',
        'data-value': pub ? r4(v.value) : null, 'data-peers': peers && peers.published ? r4(peers.value) : null,
        'data-group': grp && grp.published ? r4(grp.value) : null, 'data-region': reg && reg.published ? r4(reg.value) : null,
      });
      if (i % 2 === 0) g.appendChild(sv('rect', { x: 0, y: cy - rowH / 2, width: W, height: rowH, fill: '#f7f9fb' }));
      g.appendChild(sv('text', { x: L - 12, y: cy + 4, 'text-anchor': 'end', class: 'label-text' }, tx(r.title)));
      if (!pub) {
        // The withheld label first, so the markers below stay on top of it;
        // its ground keeps the grid from striking through the text.
        const label = withheldLabel(v, r.display);
        g.appendChild(sv('rect', { x: L + 1, y: cy - 10, width: 56 + 7.5 * `${name}: ${label}`.length, height: 20, fill: i % 2 === 0 ? '#f7f9fb' : '#fff' }));
        g.appendChild(sv('rect', { x: L + 4, y: cy - 7, width: 40, height: 14, fill: `url(#${hid})`, stroke: C.hatch }));
        g.appendChild(sv('text', { x: L + 50, y: cy + 4, class: 'sup-text' }, `${name}: ${label}`));
      }
      if (reg && reg.published) g.appendChild(sv('line', { x1: x(reg.value), x2: x(reg.value), y1: cy - 11, y2: cy + 11, stroke: C.accent, 'stroke-width': 2.5, 'stroke-opacity': pub ? 1 : 0.6 }));
      if (grp && grp.published) g.appendChild(sv('rect', { x: x(grp.value) - 5, y: cy - 5, width: 10, height: 10, fill: '#fff', stroke: C.dark, 'stroke-width': 2 }));
      if (peers && peers.published) g.appendChild(sv('circle', { cx: x(peers.value), cy, r: 5, fill: C.peers }));
      if (pub) {
        g.appendChild(sv('line', { x1: x(v.low), x2: x(v.high), y1: cy, y2: cy, stroke: C.primary, 'stroke-width': 2 }));
        g.appendChild(sv('circle', { cx: x(v.value), cy, r: 6.5, fill: C.primary, stroke: '#fff', 'stroke-width': 1.5 }));
      }
      g.appendChild(sv('title', {}, `${tx(r.title)} — ${name}: ${pub ? pct(v.value) : withheldLabel(v, r.display)}` +
        (ownOnly ? (pub ? ` (${T().ci} ${pct(v.low)} – ${pct(v.high)})` : '') : `; ${T().peersMean}: ${estText(peers)}; ${T().groupMean}: ${estText(grp)}; ${T().regionLabel}: ${estText(reg)}`)));
      svg.appendChild(sv('a', { href: href(['indicator', r.indicator], epochParams()) }, g));
    });
    return el('div', { class: 'chart' }, svg);
  }

  // A small range strip for an overview card: min–max span and the region.
  function rangeStrip(row) {
    const W = 260; const H = 30; const x = (v) => 8 + v * (W - 16);
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', 'data-testid': 'card-range', class: 'spark',
      'data-min': row.min ? r4(row.min.value) : null, 'data-max': row.max ? r4(row.max.value) : null });
    svg.appendChild(sv('line', { x1: x(0), x2: x(1), y1: 15, y2: 15, stroke: C.grid, 'stroke-width': 6, 'stroke-linecap': 'round' }));
    if (row.min && row.max) svg.appendChild(sv('line', { x1: x(row.min.value), x2: x(row.max.value), y1: 15, y2: 15, stroke: '#9cc1e8', 'stroke-width': 6, 'stroke-linecap': 'round' }));
    if (row.region && row.region.published) svg.appendChild(sv('circle', { cx: x(row.region.value), cy: 15, r: 6, fill: C.primary, stroke: '#fff', 'stroke-width': 2 }));
    svg.appendChild(sv('text', { x: x(0), y: 29, class: 'tick', 'font-size': 9, fill: C.muted }, '0%'));
    svg.appendChild(sv('text', { x: x(1), y: 29, 'text-anchor': 'end', 'font-size': 9, fill: C.muted }, '100%'));
    return svg;
  }

  // A card's strip in territory scope: the territory's own value and its
  // 95% interval on 0–100% (there is no range across territories).
  function intervalStrip(est) {
    const W = 260; const H = 30; const x = (v) => 8 + v * (W - 16);
    const pub = est && est.published;
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', 'data-testid': 'card-interval', class: 'spark',
      'data-low': pub ? r4(est.low) : null, 'data-high': pub ? r4(est.high) : null });
    svg.appendChild(sv('line', { x1: x(0), x2: x(1), y1: 15, y2: 15, stroke: C.grid, 'stroke-width': 6, 'stroke-linecap': 'round' }));
    if (pub) {
      svg.appendChild(sv('line', { x1: x(est.low), x2: x(est.high), y1: 15, y2: 15, stroke: '#9cc1e8', 'stroke-width': 6, 'stroke-linecap': 'round' }));
      svg.appendChild(sv('circle', { cx: x(est.value), cy: 15, r: 6, fill: C.primary, stroke: '#fff', 'stroke-width': 2 }));
    }
    svg.appendChild(sv('text', { x: x(0), y: 29, 'font-size': 9, fill: C.muted }, '0%'));
    svg.appendChild(sv('text', { x: x(1), y: 29, 'text-anchor': 'end', 'font-size': 9, fill: C.muted }, '100%'));
    return svg;
  }

  // ---- Views -------------------------------------------------------------
  async function overviewView() {
    if (territoryScope()) return territoryOverviewView();
    const m = state.meta;
    const ov = await getJSON('overview', { epoch: state.epoch });
    const rows = ov.rows || [];
    const cards = el('div', { class: 'cards', 'data-testid': 'overview-cards' }, rows.map((r) => {
      const link = href(['indicator', r.indicator], epochParams());
      const cov = r.coverage || {};
      return el('article', {
        class: 'card', 'data-testid': 'overview-card', 'data-indicator': r.indicator,
        'data-value': r.region && r.region.published ? r4(r.region.value) : null, 'data-suppressed': String(!(r.region && r.region.published)),
        'data-contributing': cov.contributing, 'data-enrolled': cov.enrolled,
      },
      el('h3', {}, el('a', { href: link }, tx(r.title) || tx((indicatorMeta(r.indicator) || {}).title) || r.indicator)),
      el('p', { class: 'big' }, r.region && r.region.published ? pct(r.region.value) : valueCell(r.region)),
      el('span', { class: 'ci' }, r.region && r.region.published ? T().ciRange(pct(r.region.low), pct(r.region.high)) : reasonText(r.region && r.region.reason)),
      rangeStrip(r),
      el('dl', {},
        el('dt', {}, T().coverageLabel), el('dd', { 'data-testid': 'coverage', 'data-contributing': cov.contributing, 'data-enrolled': cov.enrolled }, T().coverage(cov.contributing, cov.enrolled).replace(/^[^:]*:\s*/, '')),
        el('dt', {}, T().rangeLabel), el('dd', {}, r.min && r.max ? `${pct(r.min.value)} – ${pct(r.max.value)}` : '—'),
        r.min && r.max ? [el('dt', {}, ''), el('dd', { class: 'muted' }, `${terrName(r.min.territory)} – ${terrName(r.max.territory)}`)] : null),
      el('a', { class: 'more', href: link }, T().details));
    }));
    const ovTable = table(T().tableOf(T().overviewTitle),
      [T().indicator, { label: T().regionValue, num: true }, { label: T().ci, num: true }, { label: T().coverageLabel, num: true }, { label: 'Min', num: true }, { label: 'Max', num: true }],
      rows.map((r) => [el('a', { href: href(['indicator', r.indicator], epochParams()) }, tx(r.title)), { v: valueCell(r.region) }, ciText(r.region),
        T().coverageShort(r.coverage.contributing, r.coverage.enrolled),
        r.min ? `${pct(r.min.value)} (${terrName(r.min.territory)})` : '—', r.max ? `${pct(r.max.value)} (${terrName(r.max.territory)})` : '—']), 'overview-table');
    const terrTable = table(T().territoriesTitle,
      [T().territory, { label: T().population, num: true }, { label: T().foreignShare, num: true }, T().group, T().lastEpoch],
      (m.territories || []).map((t) => [el('a', { href: href(['territory', t.code], epochParams()) }, t.name), num(t.population),
        pct(t.foreign_share), el('span', { class: 'tag group' }, groupTitle(t.group)), period(t.last_epoch)]), 'territories-table');
    const others = (m.indicators || []).filter((i) => i.kind !== 'ratio');
    return el('div', { 'data-testid': 'view-overview' },
      el('h1', {}, T().overviewTitle),
      el('p', { class: 'lead' }, T().overviewLead(m.region ? m.region.name : '')),
      el('div', { class: 'toolbar' }, epochSelect([]), exportLinks('overview', { epoch: state.epoch }, `overview-${state.epoch}`)),
      noiseNotice(),
      cards,
      el('div', { class: 'panel', 'data-testid': 'overview-table-panel' }, el('h2', {}, T().dataTable), coverageLine(null), ovTable),
      others.length ? panel(T().otherIndicators, null, null, el('ul', {}, others.map((i) => el('li', {}, el('a', { href: href(['indicator', i.id], epochParams()) }, tx(i.title)), ` (${T().kinds[i.kind] || i.kind})`)))) : null,
      panel(T().territoriesTitle, null, null, terrTable));
  }

  // The overview of a territory hub: its own value per indicator (the
  // API's "region" is pooled over the one territory, so it is its own).
  async function territoryOverviewView() {
    const m = state.meta;
    const own = ownTerritory();
    const ov = await getJSON('overview', { epoch: state.epoch });
    const rows = ov.rows || [];
    const status = (r) => (r.region && r.region.published ? T().published : valueCell(r.region));
    const cards = el('div', { class: 'cards', 'data-testid': 'overview-cards' }, rows.map((r) => {
      const link = href(['indicator', r.indicator], epochParams());
      const cov = r.coverage || {};
      const pub = r.region && r.region.published;
      return el('article', {
        class: 'card', 'data-testid': 'overview-card', 'data-indicator': r.indicator,
        'data-value': pub ? r4(r.region.value) : null, 'data-suppressed': String(!pub),
        'data-contributing': cov.contributing, 'data-enrolled': cov.enrolled,
      },
      el('h3', {}, el('a', { href: link }, tx(r.title) || tx((indicatorMeta(r.indicator) || {}).title) || r.indicator)),
      el('p', { class: 'big' }, pub ? pct(r.region.value) : valueCell(r.region)),
      el('span', { class: 'ci' }, pub ? T().ciRange(pct(r.region.low), pct(r.region.high)) : reasonText(r.region && r.region.reason)),
      intervalStrip(r.region),
      el('dl', {},
        el('dt', {}, T().epoch), el('dd', {}, period(state.epoch)),
        el('dt', {}, T().status), el('dd', {}, status(r))),
      el('a', { class: 'more', href: link }, T().detailsT));
    }));
    const ovTable = table(T().tableOf(T().overviewTitleT),
      [T().indicator, { label: T().territoryValue, num: true }, { label: T().ci, num: true }, T().status],
      rows.map((r) => [el('a', { href: href(['indicator', r.indicator], epochParams()) }, tx(r.title)), { v: valueCell(r.region) }, ciText(r.region) || '—',
        { v: status(r) }]), 'overview-table');
    const others = (m.indicators || []).filter((i) => i.kind !== 'ratio');
    return el('div', { 'data-testid': 'view-overview' },
      el('h1', {}, T().overviewTitleT),
      el('p', { class: 'lead' }, T().overviewLeadT(own.name)),
      el('div', { class: 'toolbar' }, epochSelect([]), exportLinks('overview', { epoch: state.epoch }, `overview-${state.epoch}`)),
      noiseNotice(),
      cards,
      el('section', { class: 'panel profile-link-panel' },
        el('div', {}, el('h2', {}, T().profileOpen(own.name)), el('p', { class: 'muted' }, T().profileOpenLead)),
        el('a', { class: 'btn btn-primary', href: href(['territory', own.code], epochParams()), 'data-testid': 'profile-link', 'data-territory': own.code }, T().profileOpenBtn)),
      el('div', { class: 'panel', 'data-testid': 'overview-table-panel' }, el('h2', {}, T().dataTable), ovTable),
      others.length ? panel(T().otherIndicators, null, null, el('ul', {}, others.map((i) => el('li', {}, el('a', { href: href(['indicator', i.id], epochParams()) }, tx(i.title)), ` (${T().kinds[i.kind] || i.kind})`)))) : null);
  }

  // Breakdowns an indicator offers, as "dim:value" keys with their labels.
  const bdValue = (v) => T().bdValues[v] || v;
  function breakdownChoices(meta) {
    return ((meta && meta.breakdowns) || []).map((b) => ({
      id: b.id, title: tx(b.title), values: (b.values || []).map((v) => [`${b.id}:${v}`, `${tx(b.title)}: ${bdValue(v)}`]),
    }));
  }
  function breakdownLabel(meta, key) {
    for (const b of breakdownChoices(meta)) for (const [k, l] of b.values) if (k === key) return l;
    return '';
  }
  function breakdownSelect(choices, value, disabled, onChange) {
    const id = 'sel-breakdown';
    return el('div', { class: 'field' }, el('label', { for: id }, T().breakdown),
      el('select', { id, 'data-testid': 'breakdown-select', disabled, on: { change: (ev) => onChange(ev.target.value) } },
        el('option', { value: '', selected: !value }, T().total),
        choices.map((b) => el('optgroup', { label: b.title }, b.values.map(([k, l]) => el('option', { value: k, selected: k === value }, l))))));
  }

  async function indicatorView(id) {
    const meta = indicatorMeta(id);
    const terrScope = territoryScope();
    // A breakdown applies to annual epochs only (quarterly releases carry
    // the totals); one this indicator does not offer is ignored.
    const annual = /^\d{4}$/.test(state.epoch);
    const bdText = breakdownLabel(meta, state.breakdown);
    const bd = annual && bdText ? state.breakdown : '';
    const d = await getJSON('indicator', { indicator: id, epoch: state.epoch, breakdown: bd });
    const ratio = (d.kind || (meta && meta.kind)) === 'ratio';
    const title = meta ? tx(meta.title) : id;
    const route = ['indicator', id];
    // Chart headings name the breakdown; the trend and scatter stay totals.
    const withBd = (h) => (bd ? `${h} — ${bdText}` : h);
    const bdParams = () => Object.assign(epochParams(), { breakdown: state.breakdown && bdText ? state.breakdown : '' });
    const terrs = d.territories || [];
    // Published first by value, withheld after, so the eye reads a ranking.
    const measure = (t) => (ratio ? t.rate : t.per_1000_residents);
    const sorted = terrs.slice().sort((a, b) => {
      const ea = measure(a); const eb = measure(b);
      const pa = ea && ea.published; const pb = eb && eb.published;
      if (pa !== pb) return pa ? -1 : 1;
      return pa ? eb.value - ea.value : a.name.localeCompare(b.name);
    });
    const fmt = ratio ? pct : (v) => num(v, 2);
    const bars = barChart({
      rows: sorted.map((t) => ({ key: t.code, label: t.name, href: href(['territory', t.code], epochParams()), est: measure(t), display: t.display, attrs: { 'data-territory': t.code } })),
      testid: 'chart-territories', aria: `${title} — ${withBd(terrScope ? T().barsTitleT : T().barsTitle)}, ${period(state.epoch)}`, fmt, isRate: ratio,
      // In territory scope the "region" is the territory itself: no line.
      region: ratio && d.region && !terrScope ? d.region.rate : null,
    });
    const barsTitle = withBd(terrScope ? T().barsTitleT : T().barsTitle);
    const terrTable = tableToggle(T().tableOf(barsTitle),
      [T().territory, terrScope ? null : T().group, { label: ratio ? T().numDen : T().count, num: true }, { label: ratio ? T().rate : T().per1000, num: true }, { label: T().ci, num: true }, { label: T().per1000f, num: true }].filter(Boolean),
      sorted.map((t) => [el('a', { href: href(['territory', t.code], epochParams()) }, t.name), terrScope ? null : groupTitle(t.group),
        t.suppressed ? { v: valueCell(null, 'suppressed') } : t.display,
        { v: valueCell(measure(t), t.display, fmt) }, ciText(measure(t), fmt), { v: t.per_1000_foreign_residents ? valueCell(t.per_1000_foreign_residents, t.display, (v) => num(v, 2)) : '—' }].filter((c) => c !== null)), 'table-territories');
    const choices = breakdownChoices(meta);
    const parts = [
      breadcrumb([T().home, href([], epochParams())], [T().navIndicators, null], [title, null]),
      el('h1', {}, title, bd ? el('span', { class: 'h1-sub', 'data-testid': 'breakdown-heading' }, bdText) : null),
      meta && meta.description ? el('p', { class: 'lead' }, tx(meta.description)) : null,
      el('div', { class: 'toolbar' },
        selectField('sel-indicator', T().indicator, (state.meta.indicators || []).map((i) => [i.id, tx(i.title)]), id, (v) => {
          // Keep the breakdown when the next indicator offers it too.
          const keep = breakdownLabel(indicatorMeta(v), state.breakdown) ? state.breakdown : '';
          location.hash = href(['indicator', v], Object.assign(epochParams(), { breakdown: keep }));
        }, 'indicator-select'),
        epochSelect(route, { breakdown: bdParams().breakdown }),
        choices.length ? breakdownSelect(choices, bd, !annual, (v) => { location.hash = href(route, Object.assign(epochParams(), { breakdown: v })); }) : null,
        exportLinks('indicator', { indicator: id, epoch: state.epoch, breakdown: bd }, `${id}-${state.epoch}${bd ? '-' + bd.replace(':', '-') : ''}`)),
      noiseNotice(),
    ];
    if (bd) {
      parts.push(el('p', { class: 'notice bd-note', 'data-testid': 'breakdown-note', 'data-breakdown': bd },
        el('strong', {}, `${T().breakdown}: ${bdText} · `), terrScope ? T().bdNoteTerritory : T().bdNote));
    } else if (state.breakdown && bdText && !annual) {
      parts.push(el('p', { class: 'notice', 'data-testid': 'breakdown-note', 'data-breakdown': '' }, T().bdAnnualOnly));
    }
    if (ratio && d.region) {
      const rg = d.region;
      parts.push(el('div', { class: 'facts', 'data-testid': 'region-summary', 'data-value': rg.rate && rg.rate.published ? r4(rg.rate.value) : null },
        fact(terrScope ? T().territoryValue : T().regionValue, rg.rate && rg.rate.published ? pct(rg.rate.value) : valueCell(rg.rate)),
        fact(T().ci, ciText(rg.rate) || '—'),
        fact(T().numDen, rg.numerator !== undefined ? `${num(rg.numerator)} / ${num(rg.denominator)}` : '—'),
        terrScope ? null : fact(T().coverageLabel, T().coverageShort(d.coverage.contributing, d.coverage.enrolled))));
    }
    parts.push(panel(barsTitle, ratio ? (terrScope ? T().barsLeadT : T().barsLead) : T().barsLeadCount, null,
      terrScope ? coverageLine(null) : coverageLine(d.coverage), bars,
      legend([['', ratio ? T().legendRate : T().per1000], ['whisker', T().legendCI], ratio && !terrScope ? ['region', T().legendRegion] : null, ['hatched', T().legendSuppressed]].filter(Boolean)),
      terrTable));
    if (!ratio && terrs.some((t) => t.bins)) {
      const binIds = [...new Set(terrs.flatMap((t) => (t.bins || []).map((b) => b.id)))];
      parts.push(panel(T().bins, null, null, table(T().tableOf(T().bins), [T().territory, ...binIds.map((b) => ({ label: b, num: true }))],
        terrs.map((t) => [t.name, ...binIds.map((b) => { const x = (t.bins || []).find((y) => y.id === b); return x ? x.display : (t.suppressed ? T().suppressed : '—'); })]), 'table-bins')));
    }
    if (ratio && !terrScope) {
      const groups = (d.groups || []).slice().sort((a, b) => {
        const pa = a.mean && a.mean.published; const pb = b.mean && b.mean.published;
        if (pa !== pb) return pa ? -1 : 1;
        return pa ? b.mean.value - a.mean.value : a.group.localeCompare(b.group);
      });
      parts.push(panel(withBd(T().groupsTitle), T().groupsLead, null,
        coverageLine(d.coverage),
        barChart({
          rows: groups.map((g) => ({ key: g.group, label: shortGroup(g.group), est: g.mean, marker: g.pooled, attrs: { 'data-group': g.group, 'data-pooled': g.pooled && g.pooled.published ? r4(g.pooled.value) : null } })),
          testid: 'chart-groups', aria: `${title} — ${withBd(T().groupsTitle)}`, region: d.region && d.region.rate, markerLabel: T().legendPooled,
        }),
        legend([['', T().legendMean], ['whisker', T().legendCI], ['group', T().legendPooled], ['region', T().legendRegion], ['hatched', T().legendSuppressed]]),
        tableToggle(T().tableOf(withBd(T().groupsTitle)),
          [T().group, T().members, { label: T().mean, num: true }, { label: T().ci, num: true }, { label: T().contributing, num: true }, { label: T().pooled, num: true }, { label: T().ci, num: true }],
          groups.map((g) => [groupTitle(g.group), ((groupOf(g.group) || {}).members || []).map(terrName).join(', '), { v: valueCell(g.mean) }, ciText(g.mean),
            T().coverageShort(g.mean_coverage.contributing, g.mean_coverage.enrolled), { v: valueCell(g.pooled) }, ciText(g.pooled)]), 'table-groups')));
    }
    if (ratio) {
      // Trends need quarterly releases; an indicator published yearly has none.
      const kinds = ((state.meta.indicators || []).find((i) => i.id === id) || {}).period_kinds || [];
      if (kinds.includes('quarter')) parts.push(await optionalPanel(T().trendTitle, () => trendPanel(id, title, bd)));
      // The scatter needs several territories.
      if (!terrScope) parts.push(await optionalPanel(T().scatterTitle, () => scatterPanel(id, title, bd ? null : d.region && d.region.rate, bd)));
    }
    return el('div', { 'data-testid': 'view-indicator', 'data-indicator': id, 'data-breakdown': bd }, parts);
  }

  function shortGroup(id) {
    const g = groupOf(id);
    if (!g) return id;
    const names = (g.members || []).map(terrName);
    return names.length <= 2 ? names.join(', ') : `${names.slice(0, 2).join(', ')} +${names.length - 2}`;
  }
  function fact(k, v, cls) { return el('div', { class: `fact ${cls || ''}` }, el('div', { class: 'k' }, k), el('div', { class: 'v' }, v)); }

  // optionalPanel draws a secondary chart, or in its place the API's reason
  // when it cannot (the rest of the page still draws).
  async function optionalPanel(title, draw) {
    try {
      return await draw();
    } catch (e) {
      if (e instanceof AuthError) throw e;
      return panel(title, null, null, el('p', { class: 'notice', 'data-testid': 'panel-unavailable' }, e.message || String(e)));
    }
  }

  // totalOnly: a breakdown is chosen, which the trend API does not take.
  function totalOnlyNote(bd) { return bd ? el('p', { class: 'muted total-only', 'data-testid': 'total-only' }, T().totalOnly) : null; }

  async function trendPanel(id, title, bd) {
    const tr = await getJSON('trend', { indicator: id });
    const terrScope = territoryScope();
    // In territory scope the API's "region" series is the territory's own.
    const with_ = terrScope ? '' : state.trendWith;
    const series = [{ key: 'region', label: terrScope ? ownTerritory().name : T().regionLabel, color: C.primary, band: true, points: (tr.region && tr.region.points) || [] }];
    const other = (tr.territories || []).find((t) => t.territory === with_);
    if (other) series.push({ key: other.territory, label: terrName(other.territory), color: C.second, points: other.points || [] });
    const chart = lineChart({ series, testid: 'chart-trend', aria: `${title} — ${T().trendTitle}` });
    const rows = series.flatMap((s) => s.points.map((p) => [s.label, T().window(period(p.from), period(p.epoch)), { v: valueCell(p.rate) }, ciText(p.rate),
      p.numerator !== undefined ? `${num(p.numerator)} / ${num(p.denominator)}` : '—']));
    const gaps = other && other.gaps && other.gaps.length ? el('p', { class: 'muted' }, `${terrName(other.territory)}: ${other.gaps.map((g) => `${period(g.epoch)} (${reasonText(g.reason)})`).join(', ')}`) : null;
    const tools = terrScope ? null : el('div', { class: 'toolbar-inline' },
      selectField('sel-trend', T().trendAdd, [['', T().trendNone], ...(state.meta.territories || []).map((t) => [t.code, t.name])], with_,
        (v) => { state.trendWith = v; render(); }, 'trend-select'));
    return panel(T().trendTitle, terrScope ? T().trendLeadT : T().trendLead, tools, totalOnlyNote(bd),
      el('div', { class: 'meta-line' }, el('span', {}, T().noiseShort), exportLinks('trend', { indicator: id }, `${id}-trend`)),
      chart, legend([['', series[0].label], ...(other ? [['second', terrName(other.territory)]] : [])]), gaps,
      tableToggle(T().tableOf(T().trendTitle), [T().series, T().windowCol, { label: T().rate, num: true }, { label: T().ci, num: true }, { label: T().numDen, num: true }], rows, 'table-trend'));
  }

  async function scatterPanel(id, title, region, bd) {
    const axis = state.axis;
    const params = { indicator: id, epoch: state.epoch, x: axis };
    let view;
    try { view = await getJSON('scalability', params); } catch (e) {
      if (e instanceof AuthError) throw e;
      return panel(T().scatterTitle, T().scatterLead, null, el('p', { class: 'notice error' }, e.message));
    }
    const fmtX = axis === 'caseload' ? (v) => num(v) : eur;
    const tools = selectField('sel-axis', T().axis, [['caseload', T().axisCaseload], ['cost_per_pathway_eur', T().axisCost]], axis, (v) => { state.axis = v; render(); }, 'axis-select');
    const om = view.omitted || [];
    return panel(T().scatterTitle, T().scatterLead, tools, totalOnlyNote(bd),
      el('div', { class: 'meta-line' }, coverageLine(view.coverage), exportLinks('scalability', params, `${id}-${state.epoch}-${axis}`)),
      scatter({ view, testid: 'chart-scatter', aria: `${title} — ${T().scatterTitle}`, fmtX, region }),
      el('p', { class: 'muted', 'data-testid': 'scatter-omitted' }, om.length ? `${T().omitted}: ${om.map((o) => `${terrName(o.territory)} (${reasonText(o.y || o.x)})`).join('; ')}` : T().omittedNone),
      tableToggle(T().tableOf(T().scatterTitle), [T().territory, { label: axis === 'caseload' ? T().axisCaseload : T().axisCost, num: true }, { label: T().ci, num: true }, { label: T().rate, num: true }, { label: T().ci, num: true }],
        (view.points || []).map((p) => [terrName(p.territory), fmtX(p.x.value), ciText(p.x, fmtX), pct(p.y.value), ciText(p.y)]), 'table-scatter'));
  }

  async function territoryView(code) {
    const m = state.meta;
    const t = (m.territories || []).find((x) => x.code === code);
    if (!t) return notFoundView();
    const d = await getJSON('territory', { territory: code, epoch: state.epoch });
    const rows = d.rows || [];
    const route = ['territory', code];
    if (territoryScope()) return ownProfileView(t, d, rows, route);
    return el('div', { 'data-testid': 'view-territory', 'data-territory': code },
      breadcrumb([T().home, href([], epochParams())], [T().navTerritories, null], [t.name, null]),
      el('h1', {}, t.name),
      el('div', { class: 'toolbar' },
        selectField('sel-territory', T().territory, (m.territories || []).map((x) => [x.code, x.name]), code, (v) => { location.hash = href(['territory', v], epochParams()); }, 'territory-select'),
        epochSelect(route),
        exportLinks('territory', { territory: code, epoch: state.epoch }, `${code}-${state.epoch}`)),
      el('div', { class: 'facts' },
        fact(T().population, num(t.population)),
        fact(T().foreign, `${num(t.foreign_residents)} (${pct(t.foreign_share)})`),
        fact(T().group, groupTitle(t.group), 'small'),
        el('div', { class: 'fact wide' }, el('div', { class: 'k' }, T().peers),
          el('ul', { class: 'peer-list', 'data-testid': 'peer-list' }, (t.peers || []).map((p) => el('li', {}, el('a', { href: href(['territory', p], epochParams()), 'data-territory': p }, terrName(p))))))),
      noiseNotice(),
      panel(T().profileTitle, T().profileLead(t.name), null,
        coverageLine(null, T().profileCoverage),
        profileChart({ rows, testid: 'chart-profile', aria: `${t.name} — ${T().profileTitle}, ${period(state.epoch)}`, name: t.name }),
        legend([['', t.name], ['whisker', T().legendCI], ['peers', T().peersMean], ['group', T().groupMean], ['region', T().regionLabel], ['hatched', T().legendSuppressed]]),
        table(T().tableOf(T().profileTitle),
          [T().indicator, { label: t.name, num: true }, { label: T().ci, num: true }, { label: T().numDen, num: true }, { label: T().peersMean, num: true }, { label: T().groupMean, num: true }, { label: T().regionLabel, num: true }],
          rows.map((r) => [el('a', { href: href(['indicator', r.indicator], epochParams()) }, tx(r.title)), { v: valueCell(r.value, r.display) }, ciText(r.value),
            r.display === 'suppressed' ? { v: valueCell(null, 'suppressed') } : r.display,
            { v: el('span', {}, valueCell(r.peers && r.peers.mean), r.peers ? el('span', { class: 'muted' }, ` (${T().ofPeers(r.peers.mean_coverage.contributing, r.peers.mean_coverage.enrolled)})`) : null) },
            { v: valueCell(r.group && r.group.mean) }, { v: valueCell(r.region) }]), 'table-profile')));
  }

  // A territory hub's own profile: its values only, no peers or group.
  function ownProfileView(t, d, rows, route) {
    return el('div', { 'data-testid': 'view-territory', 'data-territory': t.code },
      breadcrumb([T().home, href([], epochParams())], [T().profileTitleT, null]),
      el('h1', {}, t.name),
      el('div', { class: 'toolbar' }, epochSelect(route), exportLinks('territory', { territory: t.code, epoch: state.epoch }, `${t.code}-${state.epoch}`)),
      el('div', { class: 'facts' },
        fact(T().population, num(t.population)),
        fact(T().foreign, `${num(t.foreign_residents)} (${pct(t.foreign_share)})`)),
      noiseNotice(),
      panel(T().profileTitleT, T().profileLeadT(t.name), null,
        coverageLine(null),
        profileChart({ rows, testid: 'chart-profile', aria: `${t.name} — ${T().profileTitleT}, ${period(state.epoch)}`, name: t.name, ownOnly: true }),
        legend([['', t.name], ['whisker', T().legendCI], ['hatched', T().legendSuppressed]]),
        table(T().tableOf(T().profileTitleT),
          [T().indicator, { label: t.name, num: true }, { label: T().ci, num: true }, { label: T().numDen, num: true }],
          rows.map((r) => [el('a', { href: href(['indicator', r.indicator], epochParams()) }, tx(r.title)), { v: valueCell(r.value, r.display) }, ciText(r.value) || '—',
            r.display === 'suppressed' ? { v: valueCell(null, 'suppressed') } : r.display]), 'table-profile')));
  }

  function notFoundView() {
    return el('div', { 'data-testid': 'view-not-found' }, el('h1', {}, T().notFound), el('p', {}, el('a', { href: '#/' }, T().back)));
  }

  // ---- Start -------------------------------------------------------------
  document.addEventListener('DOMContentLoaded', () => {
    for (const b of document.querySelectorAll('.lang-switch button')) {
      b.addEventListener('click', () => {
        lang = b.dataset.lang === 'en' ? 'en' : 'it';
        try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* storage off */ }
        render();
      });
    }
    window.addEventListener('hashchange', () => { render(); document.getElementById('main').focus({ preventScroll: true }); });
    render();
  });
})();
