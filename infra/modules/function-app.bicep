// The Function App on Flex Consumption (Node 20). Every connection is identity-based: the
// `<connection>__*` settings name an endpoint and the user-assigned identity, never a key.
param name string
param location string
param tags object
param identityId string
param identityClientId string
param blobEndpoint string
param queueEndpoint string
param deploymentContainerName string
param serviceBusNamespaceHost string
param cosmosEndpoint string
param cosmosDatabaseName string
param cosmosContainerName string
param applicationInsightsConnectionString string
param scoringAlwaysReadyInstances int
param maximumInstanceCount int
param trainingTimeBudgetSeconds int
param evaluationSchedule string
param maxDeliveryCount int

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: { minTlsVersion: '1.2' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        // Training holds a worker thread and up to a few GB of rows: the larger instance size.
        instanceMemoryMB: 4096
        // HTTP functions (scoring among them) scale as one group, `http`.
        alwaysReady: scoringAlwaysReadyInstances > 0 ? [{ name: 'http', instanceCount: scoringAlwaysReadyInstances }] : []
      }
      runtime: { name: 'node', version: '20' }
    }
  }

  // Every setting the app reads in Azure (test/infra/consistency.test.ts holds this list to the code).
  // AzureWebJobsStorage and COSMOS_KEY are absent on purpose: keys stay on the developer's machine.
  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      AzureWebJobsStorage__blobServiceUri: blobEndpoint
      AzureWebJobsStorage__queueServiceUri: queueEndpoint
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      COSMOS_ENDPOINT: cosmosEndpoint
      COSMOS_CREDENTIAL: 'managedidentity'
      COSMOS_CLIENT_ID: identityClientId
      COSMOS_DATABASE: cosmosDatabaseName
      COSMOS_CONTAINER: cosmosContainerName
      RETRAIN_TRANSPORT: 'servicebus'
      ServiceBus__fullyQualifiedNamespace: serviceBusNamespaceHost
      ServiceBus__credential: 'managedidentity'
      ServiceBus__clientId: identityClientId
      RETRAIN_MAX_DELIVERIES: string(maxDeliveryCount)
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
      // Entra ID sign-in to ingestion, for the host's own logs and the app's telemetry alike.
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
      TRAINING_TIME_BUDGET_SECONDS: string(trainingTimeBudgetSeconds)
      HOLDOUT_FRACTION: '0.2'
      RETAIN_UNALIASED_VERSIONS: '20'
      IMPORT_MAX_BYTES: '268435456'
      IMPORT_MEMORY_MB: '1024'
      IMPORT_TIMEOUT_SECONDS: '30'
      ALIAS_CACHE_SECONDS: '2'
      MAX_REQUEST_BYTES: '10485760'
      MAX_REQUEST_ROWS: '10000'
      MAX_DROP_BYTES: '536870912'
      MODEL_CACHE_BYTES: '536870912'
      MICRO_BATCHING: 'true'
      BATCH_MAX_ROWS: '256'
      BATCH_MAX_DELAY_MS: '0'
      INFERENCE_LOG_SAMPLE_RATE: '0.1'
      INFERENCE_LOG_FLUSH_SECONDS: '10'
      EVALUATION_SCHEDULE: evaluationSchedule
    }
  }
}

output name string = site.name
output url string = 'https://${site.properties.defaultHostName}'
