// Application Insights on a Log Analytics workspace: host logs, and the app's traces, custom
// events and metrics through @azure/monitor-opentelemetry. Ingestion takes Entra ID tokens only
// (DisableLocalAuth): the app's identity publishes with Monitoring Metrics Publisher, and the host
// and the app sign in with it through APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
param name string
param location string
param tags object
// Identities that send telemetry (the app's managed identity).
param publisherPrincipalIds array

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in publisherPrincipalIds: {
    scope: applicationInsights
    name: guid(applicationInsights.id, principalId, monitoringMetricsPublisher)
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    }
  }
]

// The connection string names the resource (instrumentation key and ingestion endpoint); with local
// auth disabled it is not a credential.
output applicationInsightsConnectionString string = applicationInsights.properties.ConnectionString
