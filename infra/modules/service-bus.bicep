// Service Bus for retrain requests: sessions (session id = model: one training per model at a
// time, in order), duplicate detection (message id = idempotency key), dead-lettering after
// maxDeliveryCount. Local auth is off: identities only.
param name string
param location string
param tags object
param maxDeliveryCount int
@description('Principals given Azure Service Bus Data Sender and Data Receiver.')
param principalIds array

var queueName = 'retrain-requests'
var serviceBusDataSender = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var serviceBusDataReceiver = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  // Standard: sessions and duplicate detection need it (Basic has neither).
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: namespace
  name: queueName
  properties: {
    requiresSession: true
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: 'P1D'
    maxDeliveryCount: maxDeliveryCount
    // The longest lock Service Bus allows; the host renews it while training runs (host.json maxAutoLockRenewalDuration).
    lockDuration: 'PT5M'
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P7D'
  }
}

resource sender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in principalIds: {
    scope: queue
    name: guid(queue.id, principalId, serviceBusDataSender)
    properties: {
      principalId: principalId
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataSender)
    }
  }
]

resource receiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in principalIds: {
    scope: queue
    name: guid(queue.id, principalId, serviceBusDataReceiver)
    properties: {
      principalId: principalId
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', serviceBusDataReceiver)
    }
  }
]

output namespaceHost string = '${namespace.name}.servicebus.windows.net'
output queueName string = queue.name
