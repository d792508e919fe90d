import { describe, expect, it } from 'vitest';
import { parseRouteTemplate, RouteTable } from '../../host/routes';

describe('route templates', () => {
  it('captures parameters and matches literals case-insensitively', () => {
    const template = parseRouteTemplate('models/{model}/predict');
    expect(template.match('models/iris/predict')).toEqual({ model: 'iris' });
    expect(template.match('Models/iris/PREDICT')).toEqual({ model: 'iris' });
    expect(template.match('models/iris')).toBeUndefined();
    expect(template.match('models/iris/predict/more')).toBeUndefined();
  });

  it('URL-decodes parameter values', () => {
    expect(parseRouteTemplate('datasets/{model}/{file}').match('datasets/iris/drop%201.csv')).toEqual({ model: 'iris', file: 'drop 1.csv' });
  });

  it('lets a trailing optional parameter be absent', () => {
    const template = parseRouteTemplate('v2/models/{model}/versions/{version?}');
    expect(template.match('v2/models/iris/versions/3')).toEqual({ model: 'iris', version: '3' });
    expect(template.match('v2/models/iris/versions')).toEqual({ model: 'iris' });
  });

  it('fills a missing parameter with its default', () => {
    const template = parseRouteTemplate('models/{model}/aliases/{alias=production}');
    expect(template.match('models/iris/aliases')).toEqual({ model: 'iris', alias: 'production' });
    expect(template.match('models/iris/aliases/staging')).toEqual({ model: 'iris', alias: 'staging' });
  });

  it('rejects values that break a constraint', () => {
    const version = parseRouteTemplate('models/{model}/versions/{version:int}');
    expect(version.match('models/iris/versions/12')).toEqual({ model: 'iris', version: '12' });
    expect(version.match('models/iris/versions/latest')).toBeUndefined();

    expect(parseRouteTemplate('{n:range(1,3)}').match('2')).toEqual({ n: '2' });
    expect(parseRouteTemplate('{n:range(1,3)}').match('4')).toBeUndefined();
    expect(parseRouteTemplate('{n:int:min(10)}').match('9')).toBeUndefined();
    expect(parseRouteTemplate('{name:alpha:maxlength(4)}').match('iris')).toEqual({ name: 'iris' });
    expect(parseRouteTemplate('{name:alpha:maxlength(4)}').match('irises')).toBeUndefined();
    expect(parseRouteTemplate('{code:regex(^[a-z]{{2}}$)}').match('fr')).toEqual({ code: 'fr' });
    expect(parseRouteTemplate('{code:regex(^[a-z]{{2}}$)}').match('fra')).toBeUndefined();
    expect(parseRouteTemplate('{id:guid}').match('0f8fad5b-d9cb-469f-a165-70867728950e')).toBeDefined();
    expect(parseRouteTemplate('{flag:bool}').match('maybe')).toBeUndefined();
  });

  it('captures the rest of the path with a catch-all', () => {
    const template = parseRouteTemplate('files/{*path}');
    expect(template.match('files/a/b%20c/d.txt')).toEqual({ path: 'a/b c/d.txt' });
    expect(template.match('files')).toEqual({});
  });

  it('splits a complex segment at its last literal', () => {
    expect(parseRouteTemplate('artifacts/{name}.{ext}').match('artifacts/model.v2.onnx')).toEqual({ name: 'model.v2', ext: 'onnx' });
  });

  it('rejects malformed templates with the reason', () => {
    expect(() => parseRouteTemplate('models/{model')).toThrow(/unclosed "\{"/);
    expect(() => parseRouteTemplate('{version:nope}')).toThrow(/unknown constraint "nope"/);
    expect(() => parseRouteTemplate('{*rest}/more')).toThrow(/catch-all/);
    expect(() => parseRouteTemplate('{a}/{a}')).toThrow(/appears twice/);
    expect(() => parseRouteTemplate('{version?}/models')).toThrow(/optional/);
    expect(() => parseRouteTemplate('models?all')).toThrow(/"\?"/);
    expect(() => parseRouteTemplate('a//b')).toThrow(/empty segment/);
  });
});

describe('route table', () => {
  const table = new RouteTable<string>();
  table.add(parseRouteTemplate('models/{model}'), ['GET'], 'get-model');
  table.add(parseRouteTemplate('models/{model}'), ['PUT'], 'put-model');
  table.add(parseRouteTemplate('models/health'), ['GET'], 'health');
  table.add(parseRouteTemplate('models/{model}/versions/{version:int}'), ['GET'], 'get-version');
  table.add(parseRouteTemplate('models/{model}/versions/{alias}'), ['GET'], 'get-alias');
  table.add(parseRouteTemplate('anything/{*rest}'), [], 'any');

  it('prefers a literal segment, then a constrained parameter, over a plain parameter', () => {
    expect(table.lookup('GET', 'models/health')).toMatchObject({ kind: 'found', value: 'health' });
    expect(table.lookup('GET', 'models/iris')).toMatchObject({ kind: 'found', value: 'get-model', params: { model: 'iris' } });
    expect(table.lookup('GET', 'models/iris/versions/2')).toMatchObject({ kind: 'found', value: 'get-version' });
    expect(table.lookup('GET', 'models/iris/versions/latest')).toMatchObject({ kind: 'found', value: 'get-alias' });
  });

  it('routes by method, case-insensitively', () => {
    expect(table.lookup('put', 'models/iris')).toMatchObject({ kind: 'found', value: 'put-model' });
  });

  it('answers method-not-allowed with the methods the route accepts', () => {
    expect(table.lookup('DELETE', 'models/iris')).toEqual({ kind: 'method-not-allowed', allowed: ['GET', 'PUT'] });
  });

  it('answers not-found when no template matches', () => {
    expect(table.lookup('GET', 'datasets/iris')).toEqual({ kind: 'not-found' });
  });

  it('accepts every method when a route names none', () => {
    expect(table.lookup('PATCH', 'anything/at/all')).toMatchObject({ kind: 'found', value: 'any', params: { rest: 'at/all' } });
  });
});

describe('route table lookup by first segment', () => {
  it('still tries routes that start with a parameter or a catch-all, in precedence order with the literal ones', () => {
    const table = new RouteTable<string>();
    table.add(parseRouteTemplate('{tenant}/predict'), ['POST'], 'tenant-predict');
    table.add(parseRouteTemplate('models/predict'), ['POST'], 'literal-predict');
    table.add(parseRouteTemplate('{*anything}'), ['GET'], 'fallback');
    expect(table.lookup('POST', 'models/predict')).toMatchObject({ kind: 'found', value: 'literal-predict' });
    expect(table.lookup('POST', 'acme/predict')).toMatchObject({ kind: 'found', value: 'tenant-predict', params: { tenant: 'acme' } });
    expect(table.lookup('POST', 'Models/predict')).toMatchObject({ kind: 'found', value: 'literal-predict' });
    expect(table.lookup('GET', 'models/predict')).toMatchObject({ kind: 'found', value: 'fallback', params: { anything: 'models/predict' } });
    expect(table.lookup('GET', '')).toMatchObject({ kind: 'found', value: 'fallback' });
  });

  it('merges the allowed methods of literal and parameter routes that match', () => {
    const table = new RouteTable<string>();
    table.add(parseRouteTemplate('{tenant}/items'), ['GET'], 'a');
    table.add(parseRouteTemplate('shop/items'), ['PUT'], 'b');
    expect(table.lookup('DELETE', 'shop/items')).toEqual({ kind: 'method-not-allowed', allowed: ['PUT', 'GET'] });
  });

  it('sees a route added after the first lookup', () => {
    const table = new RouteTable<string>();
    table.add(parseRouteTemplate('models/{model}'), ['GET'], 'get-model');
    expect(table.lookup('GET', 'datasets/iris')).toEqual({ kind: 'not-found' });
    table.add(parseRouteTemplate('datasets/{model}'), ['GET'], 'list-datasets');
    expect(table.lookup('GET', 'datasets/iris')).toMatchObject({ kind: 'found', value: 'list-datasets' });
  });

  it('keeps a non-ASCII literal first segment matching case-insensitively through the regex', () => {
    const table = new RouteTable<string>();
    table.add(parseRouteTemplate('modèles/{model}'), ['GET'], 'fr');
    expect(parseRouteTemplate('modèles/{model}').firstLiteral).toBeUndefined();
    expect(table.lookup('GET', 'MODÈLES/iris')).toMatchObject({ kind: 'found', value: 'fr' });
  });
});

describe('route templates by segment count', () => {
  it('knows the fewest and most segments a matching path has', () => {
    expect(parseRouteTemplate('models/{model}/predict').segments).toEqual({ min: 3, max: 3 });
    expect(parseRouteTemplate('v2/models/{model}/versions/{version?}').segments).toEqual({ min: 4, max: 5 });
    expect(parseRouteTemplate('models/{model}/aliases/{alias=production}').segments).toEqual({ min: 3, max: 4 });
    expect(parseRouteTemplate('dashboard/{*asset}').segments).toEqual({ min: 1, max: Infinity });
    expect(parseRouteTemplate('').segments).toEqual({ min: 0, max: 0 });
  });

  it('matches optional, defaulted and catch-all tails through the table', () => {
    const table = new RouteTable<string>();
    table.add(parseRouteTemplate('models/{model}/aliases/{alias=production}'), ['GET'], 'alias');
    table.add(parseRouteTemplate('dashboard/{*asset}'), ['GET'], 'dashboard');
    table.add(parseRouteTemplate(''), ['GET'], 'root');
    expect(table.lookup('GET', 'models/iris/aliases')).toMatchObject({ kind: 'found', value: 'alias', params: { alias: 'production' } });
    expect(table.lookup('GET', 'models/iris/aliases/challenger')).toMatchObject({ kind: 'found', params: { alias: 'challenger' } });
    expect(table.lookup('GET', 'models/iris/aliases/a/b')).toEqual({ kind: 'not-found' });
    expect(table.lookup('GET', 'dashboard')).toMatchObject({ kind: 'found', value: 'dashboard' });
    expect(table.lookup('GET', 'dashboard/js/app.js')).toMatchObject({ kind: 'found', params: { asset: 'js/app.js' } });
    expect(table.lookup('GET', '')).toMatchObject({ kind: 'found', value: 'root' });
  });
});
