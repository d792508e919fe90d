// modelloop in Azure: one resource group with everything the app needs, signed in by one
// user-assigned managed identity. No keys or connection strings reach the app settings.
// `azd up` provisions this (parameters in main.parameters.json) and deploys the app.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region for every resource (one that offers Flex Consumption).')
param location string

@description('Always-ready instances for the HTTP (scoring) functions; 0 scales to zero.')
@minValue(0)
param scoringAlwaysReadyInstances int = 0

@description('Most instances the app scales out to.')
@minValue(40)
param maximumInstanceCount int = 100

@description('Upper bound on one training run, in seconds (TRAINING_TIME_BUDGET_SECONDS; host.json functionTimeout is this plus 5 minutes).')
@minValue(30)
@maxValue(600)
param trainingTimeBudgetSeconds int = 600

@description('When scheduled evaluation runs (six-field NCRONTAB), and the schedule of models whose definition names none.')
param evaluationSchedule string = '0 0 * * * *'

@description('Deliveries of a retrain request before Service Bus dead-letters it (host.json maxDequeueCount matches it).')
@minValue(1)
param maxDeliveryCount int = 5

@description('Optional: your Entra object id, to be granted the same data roles for local runs against these resources.')
param developerPrincipalId string = ''

var abbreviation = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, app: 'modelloop' }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  name: 'identity'
  params: { name: 'id-modelloop-${abbreviation}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  name: 'monitoring'
  params: { name: 'modelloop-${abbreviation}', location: location, tags: tags, publisherPrincipalIds: [identity.outputs.principalId] }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  name: 'storage'
  params: {
    name: 'stml${abbreviation}'
    location: location
    tags: tags
    principalIds: filter([identity.outputs.principalId, developerPrincipalId], id => !empty(id))
  }
}

module serviceBus 'modules/service-bus.bicep' = {
  scope: rg
  name: 'service-bus'
  params: {
    name: 'sb-modelloop-${abbreviation}'
    location: location
    tags: tags
    maxDeliveryCount: maxDeliveryCount
    principalIds: filter([identity.outputs.principalId, developerPrincipalId], id => !empty(id))
  }
}

module cosmos 'modules/cosmos.bicep' = {
  scope: rg
  name: 'cosmos'
  params: {
    name: 'cosmos-modelloop-${abbreviation}'
    location: location
    tags: tags
    principalIds: filter([identity.outputs.principalId, developerPrincipalId], id => !empty(id))
  }
}

module functionApp 'modules/function-app.bicep' = {
  scope: rg
  name: 'function-app'
  params: {
    name: 'func-modelloop-${abbreviation}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    serviceBusNamespaceHost: serviceBus.outputs.namespaceHost
    cosmosEndpoint: cosmos.outputs.endpoint
    cosmosDatabaseName: cosmos.outputs.databaseName
    cosmosContainerName: cosmos.outputs.containerName
    applicationInsightsConnectionString: monitoring.outputs.applicationInsightsConnectionString
    scoringAlwaysReadyInstances: scoringAlwaysReadyInstances
    maximumInstanceCount: maximumInstanceCount
    trainingTimeBudgetSeconds: trainingTimeBudgetSeconds
    evaluationSchedule: evaluationSchedule
    maxDeliveryCount: maxDeliveryCount
  }
}

output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output MODELLOOP_URL string = functionApp.outputs.url
output AZURE_STORAGE_ACCOUNT string = storage.outputs.name
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.namespaceHost
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
