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
