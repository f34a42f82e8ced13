// Passthrough: the private IPv4 addresses of an internet-facing Network Load
// Balancer, one per subnet, read from the network interfaces Elastic Load
// Balancing creates for it (description "ELB " + its full name). A subnet
// without one fails the deployment: the record would be partial.
'use strict';
const http = require('http');
const https = require('https');

async function lookup(p, describe, wait) {
  const name = p.LoadBalancerFullName;
  for (let attempt = 1; ; attempt++) {
    const out = await describe({ Filters: [{ Name: 'description', Values: ['ELB ' + name] }] });
    const bySubnet = {};
    for (const eni of out.NetworkInterfaces || []) bySubnet[eni.SubnetId] = eni.PrivateIpAddress;
    const missing = p.Subnets.filter((s) => !bySubnet[s]);
    if (missing.length === 0) {
      const data = {};
      p.Subnets.forEach((s, i) => { data['Address' + i] = bySubnet[s]; });
      return data;
    }
    if (attempt >= wait.attempts) {
      throw new Error('load balancer ' + name + ' has network interfaces in ' +
        (p.Subnets.length - missing.length) + ' of its ' + p.Subnets.length +
        ' subnets after ' + attempt + ' lookups, none in ' + missing.join(', ') +
        '; its private DNS record would be partial. Check its subnets and the network interfaces described "ELB ' + name + '"');
    }
    await new Promise((resolve) => setTimeout(resolve, wait.delayMs));
  }
}

function put(url, body) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'http:' ? http : https).request(u, {
      method: 'PUT',
      headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) },
    }, (res) => { res.resume(); res.on('end', resolve); });
    req.on('error', reject);
    req.end(body);
  });
}

async function run(event, describe, wait) {
  const p = event.ResourceProperties;
  let status = 'SUCCESS';
  let reason = '';
  let data = {};
  try {
    if (event.RequestType !== 'Delete') data = await lookup(p, describe, wait);
  } catch (e) {
    status = 'FAILED';
    reason = String(e.message || e);
  }
  console.log(JSON.stringify({ RequestType: event.RequestType, Status: status, Reason: reason, Data: data }));
  await put(event.ResponseURL, JSON.stringify({
    Status: status,
    Reason: reason,
    PhysicalResourceId: event.RequestType === 'Delete' ? event.PhysicalResourceId : p.LoadBalancerFullName,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    Data: data,
  }));
}

// The SDK is loaded on first use, inside run's error handling: whatever
// fails, CloudFormation gets an answer rather than waiting for a timeout.
async function describeWithSDK(input) {
  const { EC2Client, DescribeNetworkInterfacesCommand } = require('@aws-sdk/client-ec2');
  return new EC2Client({}).send(new DescribeNetworkInterfacesCommand(input));
}

exports.run = run;
exports.handler = (event) => run(event, describeWithSDK, { attempts: 12, delayMs: 10000 });
