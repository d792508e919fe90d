// The storage account: the contract's blob containers and the Storage retrain queue, plus the
// container Flex Consumption deploys the app package from. Shared keys are off: identities only.
param name string
param location string
param tags object
@description('Principals given Storage Blob Data Owner and Storage Queue Data Contributor.')
param principalIds array

// The containers of the product contract (shared/platform/blob-store.ts CONTAINERS).
var containerNames = [
  'datasets'
  'models-incoming'
  'models'
  'reports'
  'inference-logs'
]
// The Storage queue transport (RETRAIN_TRANSPORT=storage); Service Bus carries retrain requests by default.
var queueNames = [
  'retrain-requests'
]
var deploymentContainerName = 'app-package'

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take(name, 24)
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in concat(containerNames, [deploymentContainerName]): {
    parent: blobService
    name: container
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queueNames: {
    parent: queueService
    name: queue
  }
]

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in principalIds: {
    scope: account
    name: guid(account.id, principalId, storageBlobDataOwner)
    properties: {
      principalId: principalId
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    }
  }
]

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in principalIds: {
    scope: account
    name: guid(account.id, principalId, storageQueueDataContributor)
    properties: {
      principalId: principalId
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    }
  }
]

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output deploymentContainerName string = deploymentContainerName
