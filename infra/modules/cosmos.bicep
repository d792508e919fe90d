// Cosmos DB (NoSQL, serverless): database `modelloop`, container `registry`, partition key
// `/model`. Keys are off; the app signs in with its identity (built-in data contributor).
// Databases and containers are created here: data-plane RBAC cannot create them.
param name string
param location string
param tags object
@description('Principals given Cosmos DB Built-in Data Contributor.')
param principalIds array

var databaseName = 'modelloop'
var containerName = 'registry'
var partitionKeyPath = '/model'
var builtInDataContributor = '00000000-0000-0000-0000-000000000002'

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [{ locationName: location, failoverPriority: 0 }]
    capabilities: [{ name: 'EnableServerless' }]
    consistencyPolicy: { defaultConsistencyLevel: 'Session' }
    disableLocalAuth: true
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' = {
  parent: account
  name: databaseName
  properties: { resource: { id: databaseName } }
}

resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: { paths: [partitionKeyPath], kind: 'Hash' }
    }
  }
}

resource dataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = [
  for principalId in principalIds: {
    parent: account
    name: guid(account.id, principalId, builtInDataContributor)
    properties: {
      principalId: principalId
      roleDefinitionId: '${account.id}/sqlRoleDefinitions/${builtInDataContributor}'
      scope: account.id
    }
  }
]

output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
output containerName string = container.name
